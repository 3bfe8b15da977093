#!/usr/bin/python3
"""Delta compression (namespace `allowed_delta_types: ["fossil"]`, issue 13): a subscription
that asks for `delta: "fossil"` gets its first publication's data whole as a JSON string,
then Fossil deltas against the one before (`"delta": true`), made once per publication;
the real SDK decodes every one back to the published value, also across a dropped
connection it recovers from, and for non-ASCII comments. Subscribers that did not ask get
the plain publication; a namespace without deltas subscribes without them. Deltas are sent
for publications that ask (`delta: true` in the server API) or, with `delta_publish`, for
all, and counted in ringcast_deltas_sent_total."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import API, OPEN, Raw, book, call, config_file, expect_metrics, fossil_apply, require_node  # noqa: E402
from protocol_clients import sdk, server  # noqa: E402

ANYONE = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
          "allow_publish_for_client": True, "allow_publish_for_anonymous": True}
HISTORY = {"history_size": 100, "history_ttl": "300s"}
CFG = dict(API, channel=dict(OPEN["channel"], namespaces=OPEN["channel"]["namespaces"] + [
    {"name": "book", **ANYONE, **HISTORY, "force_recovery": True, "allowed_delta_types": ["fossil"]},
    # every publication a delta, client publishes too; subscriptions without recovery
    {"name": "room", **ANYONE, **HISTORY, "allowed_delta_types": ["fossil"], "delta_publish": True},
    {"name": "plain", **ANYONE, **HISTORY}]))

def publish(srv, channel, data, delta=True):
    status, answer = call(srv, "publish", {"channel": channel, "data": data, "delta": delta})
    h.check(status == 200 and "result" in answer, f"publish: {status} {answer}")


def subscribe(c, channel, **params):
    reply = c.call({"subscribe": {"channel": channel, **params}})
    h.check("subscribe" in reply, f"subscribe {channel}: {reply}")
    return reply["subscribe"]


def pushes(c, n):
    out = []
    while len(out) < n:
        out += [line["push"]["pub"] for line in c.frames() if "push" in line]
    return out


@test
def a_delta_subscriber_gets_the_first_whole_then_deltas_of_the_data_bytes():
    with server(CFG) as srv:
        raw, plain = Raw(srv), Raw(srv)
        h.check(subscribe(raw, "book:btc", delta="fossil").get("delta") is True, "delta negotiated")
        h.check("delta" not in subscribe(plain, "book:btc"), "not asked: not negotiated")
        sent = [json.dumps(book(i), separators=(",", ":")) for i in range(10)]
        for text in sent:
            publish(srv, "book:btc", json.loads(text))
        got, plain_got = pushes(raw, 10), pushes(plain, 10)
        h.check(all(p["data"] == json.loads(t) for p, t in zip(plain_got, sent)), "plain: the data itself")
        h.check(isinstance(got[0]["data"], str) and "delta" not in got[0], f"first: whole, as a string {got[0]}")
        h.check(all(p.get("delta") is True for p in got[1:]), f"then deltas {[p.get('delta') for p in got]}")
        prev = got[0]["data"].encode()
        h.check(json.loads(prev) == json.loads(sent[0]), "the first is the publication")
        delta_bytes = 0
        for p, text in zip(got[1:], sent[1:]):
            d = p["data"].encode()
            delta_bytes += len(d)
            prev = fossil_apply(prev, d)
            h.check(json.loads(prev) == json.loads(text), f"offset {p['offset']} decodes to the publication")
        full_bytes = sum(len(json.dumps(json.loads(t), separators=(",", ":"))) for t in sent[1:])
        h.check(delta_bytes * 5 <= full_bytes, f"deltas {delta_bytes} B for {full_bytes} B of order books")
        expect_metrics(srv, "ringcast_deltas_sent_total 9")


@test
def a_publication_that_asks_for_no_delta_goes_whole_and_the_chain_goes_on():
    with server(CFG) as srv:
        raw = Raw(srv)
        subscribe(raw, "book:eth", delta="fossil")
        for i, delta in enumerate([True, True, False, True]):
            publish(srv, "book:eth", book(i), delta=delta)
        got = pushes(raw, 4)
        h.check([p.get("delta", False) for p in got] == [False, True, False, True], f"forms {got}")
        prev = b""
        for i, p in enumerate(got):
            prev = fossil_apply(prev, p["data"].encode()) if p.get("delta") else p["data"].encode()
            h.check(json.loads(prev) == book(i), f"publication {i}")


@test
def sdk_decodes_deltas_live_and_after_recovering_from_a_drop():
    require_node()
    with server(CFG) as srv:
        s, p = sdk(srv), sdk(srv)
        try:
            s.next("connected")
            p.next("connected")
            s.cmd(subscribe="book:sdk", delta="fossil")
            p.cmd(subscribe="book:sdk")
            s.next("subscribed", channel="book:sdk")
            p.next("subscribed", channel="book:sdk")
            for i in range(5):
                publish(srv, "book:sdk", book(i))
            for c in (s, p):
                got = [c.next("publication", channel="book:sdk") for _ in range(5)]
                h.check([e["data"] for e in got] == [book(i) for i in range(5)], f"live {got}")
            s.cmd(drop=True)
            s.until("dropped")
            for i in range(5, 8):
                publish(srv, "book:sdk", book(i))
            ev = s.until("subscribed", channel="book:sdk")
            h.check(ev["recovered"] is True, f"recovered {ev}")
            got = [s.next("publication", channel="book:sdk") for _ in range(3)]
            h.check([e["data"] for e in got] == [book(i) for i in range(5, 8)], f"recovered {got}")
            for i in range(8, 12):
                publish(srv, "book:sdk", book(i))
            got = [s.next("publication", channel="book:sdk") for _ in range(4)]
            h.check([e["data"] for e in got] == [book(i) for i in range(8, 12)], f"live again {got}")
            s.cmd(delta_stats="book:sdk")
            st = s.next("delta_stats", channel="book:sdk")
            # Whole: the first, the 3 recovered, the first live after the resubscribe.
            h.check(st["numDeltaPayloads"] == 7 and st["numFullPayloads"] == 5, f"delta stats {st}")
            h.check(st["bytesReceived"] * 2 < st["bytesDecoded"], f"saved {st}")
        finally:
            s.kill()
            p.kill()


@test
def sdk_decodes_client_published_unicode_comments_under_delta_publish():
    require_node()
    with server(CFG) as srv:
        s, w = sdk(srv), sdk(srv)
        try:
            s.next("connected")
            w.next("connected")
            s.cmd(subscribe="room:live", delta="fossil")
            s.next("subscribed", channel="room:live")
            comments = [{"user": "观众" + str(i % 3), "text": "弹幕评论 " * 8 + "第" + str(i) + "条 é ✓"}
                        for i in range(12)]
            for c in comments:
                w.cmd(publish="room:live", data=c)
                w.next("published", channel="room:live")
            got = [s.next("publication", channel="room:live")["data"] for _ in comments]
            h.check(got == comments, f"comments {got}")
            s.cmd(delta_stats="room:live")
            st = s.next("delta_stats", channel="room:live")
            h.check(st["numDeltaPayloads"] == 11, f"delta stats {st}")
        finally:
            s.kill()
            w.kill()


@test
def a_namespace_without_deltas_subscribes_without_them():
    require_node()
    with server(CFG) as srv:
        raw = Raw(srv)
        h.check("delta" not in subscribe(raw, "plain:x", delta="fossil"), "no delta in a plain namespace")
        h.check("delta" not in subscribe(raw, "book:x", delta="xdelta"), "no delta of an unknown type")
        publish(srv, "book:x", {"v": 1})
        publish(srv, "book:x", {"v": 2})
        h.check([p["data"] for p in pushes(raw, 2)] == [{"v": 1}, {"v": 2}], "plain data")
        s = sdk(srv)
        try:
            s.next("connected")
            s.cmd(subscribe="plain:y", delta="fossil")
            s.next("subscribed", channel="plain:y")
            publish(srv, "plain:y", {"v": 3})
            h.check(s.next("publication", channel="plain:y")["data"] == {"v": 3}, "the SDK reads plain data")
        finally:
            s.kill()


@test
def bad_delta_config_is_one_line_and_exit_2():
    for ns, why in [({"name": "dd", "allowed_delta_types": ["fossil"]}, "needs history"),
                    ({"name": "dd", **HISTORY, "allowed_delta_types": ["xdelta"]}, "the only delta type"),
                    ({"name": "dd", **HISTORY, "allowed_delta_types": ["fossil"], "conflate": True}, "conflate"),
                    ({"name": "dd", **HISTORY, "delta_publish": True}, "delta_publish needs"),
                    ({"name": "dd", **HISTORY, "allowed_delta_types": ["fossil"], "presence": True,
                      "online_push_interval": "2s"}, "online_push_interval")]:
        path = config_file(dict(OPEN, channel=dict(OPEN["channel"], namespaces=[ns])), "bad-delta.json")
        p = subprocess.run([h.ARGS.ringcast, "--port", "0", "--config", path, *h.backend_args()],
                           capture_output=True, timeout=10)
        err = p.stderr.decode(errors="replace")
        h.check(p.returncode == 2 and why in err and len(err.strip().splitlines()) == 1, f"{ns}: {p.returncode} {err}")


if __name__ == "__main__":
    h.main()
