"""History and recovery on channels whose namespace keeps history: publications are
numbered by offset in a stream named by an epoch (the server API's publish answers both);
a subscribe with `recover` gets exactly what it missed, or `recovered: false` (error 112
when it asks for that) when the stream cannot cover the gap (trimmed, expired, another
epoch after a restart); cache mode gives the latest publication at once; with several
shards and publishers every subscriber sees one gap-free order, subscribers joining
mid-stream included; the real SDK recovers across a dropped connection and is told it
could not after a restart; a slow subscriber that counts offsets is closed with 3010; a
token's server-side subscriptions count offsets too and recover at connect, by hand and
with the SDK."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import API, OPEN, SECRET, Raw, call, expect_metrics, require_node, sdk, server, token  # noqa: E402

ANYONE = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
          "allow_publish_for_client": True, "allow_publish_for_anonymous": True}
HIST = dict(API, channel=dict(OPEN["channel"], namespaces=OPEN["channel"]["namespaces"] + [
    {"name": "feed", **ANYONE, "history_size": 1000, "history_ttl": "300s", "force_recovery": True,
     "allow_history_for_subscriber": True, "allow_history_for_anonymous": True},
    {"name": "short", **ANYONE, "history_size": 3, "history_ttl": "300s", "force_recovery": True},
    {"name": "brief", **ANYONE, "history_size": 10, "history_ttl": "1s", "force_recovery": True},
    {"name": "price", **ANYONE, "history_size": 1, "history_ttl": "300s", "force_recovery": True,
     "force_recovery_mode": "cache"},
    {"name": "pos", **ANYONE, "history_size": 10, "history_ttl": "300s", "force_positioning": True},
    {"name": "opt", **ANYONE, "history_size": 10, "history_ttl": "300s", "allow_recovery": True,
     "allow_positioning": True},
]))


def subscribe(c, channel, **params):
    reply = c.call({"subscribe": {"channel": channel, **params}})
    h.check("subscribe" in reply, f"subscribe {channel}: {reply}")
    return reply["subscribe"]


def publish(srv, channel, data):
    status, answer = call(srv, "publish", {"channel": channel, "data": data})
    h.check(status == 200 and "result" in answer, f"publish: {status} {answer}")
    return answer["result"]


def pubs(result):
    return [(p["offset"], p["data"]) for p in result.get("publications", [])]


@test
def publications_are_numbered_and_a_resubscribe_recovers_what_it_missed():
    with server(HIST) as srv:
        a = Raw(srv)
        r = subscribe(a, "feed:x")
        h.check(r.get("recoverable") is True and r.get("offset") == 0 and len(r.get("epoch", "")) == 8 and
                "publications" not in r and "recovered" not in r, f"first subscribe {r}")
        epoch = r["epoch"]
        for i in (1, 2, 3):
            h.check(publish(srv, "feed:x", {"i": i}) == {"offset": i, "epoch": epoch}, "publish answer")
        got = [a.push()["pub"] for _ in range(3)]
        h.check([(p["offset"], p["data"]) for p in got] == [(1, {"i": 1}), (2, {"i": 2}), (3, {"i": 3})], f"{got}")
        # b saw offset 1 before it went away: it gets 2 and 3, then the live stream
        b = Raw(srv)
        r = subscribe(b, "feed:x", recover=True, offset=1, epoch=epoch)
        # the reply's offset is the position recovered from: each publication moves the SDK's on
        h.check(r.get("recovered") is True and r.get("was_recovering") is True and r["offset"] == 1 and
                r.get("positioned") is True and r["epoch"] == epoch and pubs(r) == [(2, {"i": 2}), (3, {"i": 3})],
                f"recovery {r}")
        c = Raw(srv)  # missed nothing
        r = subscribe(c, "feed:x", recover=True, offset=3, epoch=epoch)
        h.check(r.get("recovered") is True and pubs(r) == [], f"nothing missed {r}")
        publish(srv, "feed:x", "four")
        for x in (a, b, c):
            p = x.push()["pub"]
            h.check((p["offset"], p["data"]) == (4, "four"), f"live after recovery {p}")
        # a client's publish is numbered in the same stream, its info beside the offset
        a.call({"publish": {"channel": "feed:x", "data": 5}})
        for x in (a, b, c):
            p = x.push()["pub"]
            h.check(p["offset"] == 5 and p["data"] == 5 and p["info"]["client"] == a.client, f"client publish {p}")
        expect_metrics(srv, 'ringcast_recoveries_total{result="recovered"} 2',
                       'ringcast_recoveries_total{result="not_recovered"} 0')


@test
def recovery_says_so_when_the_stream_cannot_cover_the_gap():
    with server(HIST) as srv:
        c = Raw(srv)
        epoch = subscribe(c, "short:x")["epoch"]
        for i in range(1, 6):
            publish(srv, "short:x", i)
        for _ in range(5):
            c.push()
        cases = [
            ({"offset": 1, "epoch": epoch}, "offset 1 is trimmed (history_size 3)"),
            ({"offset": 2, "epoch": "other"}, "another epoch"),
            ({"offset": 9, "epoch": epoch}, "an offset past the top"),
            ({}, "no position at all"),
        ]
        for position, what in cases:
            r = subscribe(Raw(srv), "short:x", recover=True, **position)
            h.check(r.get("recovered") is not True and r.get("was_recovering") is True and pubs(r) == [] and
                    r["offset"] == 5 and r["epoch"] == epoch, f"{what}: {r}")
        # the oldest kept one is still recoverable from
        r = subscribe(Raw(srv), "short:x", recover=True, offset=2, epoch=epoch)
        h.check(r.get("recovered") is True and [o for o, _ in pubs(r)] == [3, 4, 5], f"from 2: {r}")
        # the SDK's rejectUnrecovered flag (2) asks for error 112 instead
        h.check(Raw(srv).error({"subscribe": {"channel": "short:x", "recover": True, "offset": 1, "epoch": epoch,
                                              "flag": 3}}) == 112, "error 112")
        expect_metrics(srv, 'ringcast_recoveries_total{result="not_recovered"} 5',
                       'ringcast_recoveries_total{result="recovered"} 1')


@test
def a_resubscribe_in_one_frame_joins_once_at_its_own_place():
    with server(HIST) as srv:
        keeper = Raw(srv)  # keeps the channel's topic alive throughout
        subscribe(keeper, "feed:j")
        c = Raw(srv)
        ids = c.send({"subscribe": {"channel": "feed:j"}}, {"unsubscribe": {"channel": "feed:j"}},
                     {"publish": {"channel": "feed:j", "data": "between"}}, {"subscribe": {"channel": "feed:j"}})
        got = {}
        pushes = []
        deadline = time.monotonic() + 5
        while len(got) < 4 and time.monotonic() < deadline:
            for line in c.frames():
                if "id" in line:
                    got[line["id"]] = line
                else:
                    pushes.append(line["push"])
        h.check(set(got) == set(ids), f"replies {sorted(got)} for {ids}")
        h.check(got[ids[3]]["subscribe"]["offset"] == 1, f"the second subscribe joined after the publish: {got[ids[3]]}")
        h.check(pushes == [], f"nothing delivered before or twice: {pushes}")
        h.check(keeper.push()["pub"]["data"] == "between", "the keeper got it")
        publish(srv, "feed:j", "after")
        h.check(c.push()["pub"]["offset"] == 2, "then the live stream, once")


@test
def history_ttl_drops_the_publications_not_the_offsets():
    with server(HIST) as srv:
        epoch = publish(srv, "brief:x", 1)["epoch"]
        publish(srv, "brief:x", 2)
        time.sleep(1.3)  # history_ttl 1s after the last publish
        r = subscribe(Raw(srv), "brief:x", recover=True, offset=0, epoch=epoch)
        h.check(r.get("recovered") is not True and r["offset"] == 2 and r["epoch"] == epoch, f"expired {r}")
        h.check(publish(srv, "brief:x", 3) == {"offset": 3, "epoch": epoch}, "numbering goes on")


@test
def cache_mode_gives_the_latest_publication_at_once():
    with server(HIST) as srv:
        r = subscribe(Raw(srv), "price:btc", recover=True, offset=0, epoch="gone")
        h.check(r.get("recovered") is not True and pubs(r) == [], f"nothing cached yet {r}")
        r = subscribe(Raw(srv), "price:btc", recover=True)  # no epoch: any, and nothing was missed
        h.check(r.get("recovered") is True and pubs(r) == [], f"nothing published yet {r}")
        for price in (100, 101, 102):
            publish(srv, "price:btc", {"price": price})
        r = subscribe(Raw(srv), "price:btc", recover=True)  # the SDK's `since: {}`
        h.check(r.get("recovered") is True and pubs(r) == [(3, {"price": 102})], f"cache {r}")
        r2 = subscribe(Raw(srv), "price:btc", recover=True, offset=3, epoch=r["epoch"])
        h.check(r2.get("recovered") is True and pubs(r2) == [], f"up to date {r2}")


@test
def positioning_and_recovery_are_given_as_the_namespace_allows():
    with server(HIST) as srv:
        publish(srv, "pos:x", 1)
        r = subscribe(Raw(srv), "pos:x")
        h.check(r.get("positioned") is True and "recoverable" not in r and r["offset"] == 1, f"forced {r}")
        c = Raw(srv)
        h.check(subscribe(c, "opt:a") == {}, "not asked: a plain subscription")
        r = subscribe(c, "opt:b", positioned=True)
        h.check(r.get("positioned") is True and r["offset"] == 0, f"asked positioned {r}")
        r = subscribe(c, "opt:c", recoverable=True)
        h.check(r.get("recoverable") is True and "epoch" in r, f"asked recoverable {r}")
        h.check(subscribe(c, "comments:x", recoverable=True) == {}, "a namespace without history ignores it")
        h.check(c.error({"subscribe": {"channel": "opt:c", "recoverable": True}}) == 105, "twice: 105")
        # without history, the API's publish answer stays empty
        h.check(publish(srv, "comments:x", 1) == {}, "no offset without history")


@test
def history_reads_the_stream_as_asked_by_clients_and_the_api():
    with server(HIST) as srv:
        for i in range(1, 6):
            epoch = publish(srv, "feed:h", i)["epoch"]
        c = Raw(srv)
        h.check(c.error({"history": {"channel": "feed:h", "limit": -1}}) == 103, "not a subscriber: 103")
        subscribe(c, "feed:h")
        cases = [
            ({"limit": 0}, []),
            ({"limit": -1}, [1, 2, 3, 4, 5]),
            ({"limit": 2}, [1, 2]),
            ({"limit": 2, "reverse": True}, [5, 4]),
            ({"limit": 10, "since": {"offset": 2, "epoch": epoch}}, [3, 4, 5]),
            ({"limit": 10, "since": {"offset": 4, "epoch": epoch}, "reverse": True}, [3, 2, 1]),
            ({"limit": 10, "since": {"offset": 5, "epoch": epoch}}, []),
        ]
        for params, offsets in cases:
            r = c.call({"history": {"channel": "feed:h", **params}})["history"]
            h.check([p["offset"] for p in r.get("publications", [])] == offsets and r["epoch"] == epoch and
                    r["offset"] == 5, f"client history {params}: {r}")
            status, answer = call(srv, "history", {"channel": "feed:h", **params})
            h.check(status == 200 and [p["offset"] for p in answer["result"]["publications"]] == offsets and
                    answer["result"]["offset"] == 5, f"API history {params}: {answer}")
        h.check(c.call({"history": {"channel": "feed:h", "limit": 1}})["history"]["publications"][0]["data"] == 1,
                "the data")
        h.check(c.error({"history": {"channel": "feed:h", "since": {"offset": 1, "epoch": "x"}}}) == 112, "epoch: 112")
        h.check(call(srv, "history", {"channel": "feed:h", "since": {"offset": 1, "epoch": "x"}})[1] ==
                {"error": {"code": 112, "message": "unrecoverable position"}}, "API epoch: 112")
        h.check(c.error({"history": {"channel": "comments:h"}}) == 108, "no history kept: 108")
        h.check(call(srv, "history", {"channel": "comments:h"})[1]["error"]["code"] == 108, "API: 108")
        subscribe(c, "short:h")
        h.check(c.error({"history": {"channel": "short:h"}}) == 103, "history not allowed in the namespace: 103")
        # history_remove drops the publications; the numbering goes on
        h.check(call(srv, "history_remove", {"channel": "feed:h"}) == (200, {"result": {}}), "history_remove")
        r = c.call({"history": {"channel": "feed:h", "limit": -1}})["history"]
        h.check("publications" not in r and r["offset"] == 5 and r["epoch"] == epoch, f"after remove {r}")
        h.check(publish(srv, "feed:h", 6) == {"offset": 6, "epoch": epoch}, "numbering goes on")
        h.check(call(srv, "history", {"channel": "feed:h", "limit": "all"})[0] == 400, "a limit of the wrong type")


@test
def sdk_reads_history():
    require_node()
    with server(HIST) as srv:
        for i in range(1, 4):
            epoch = publish(srv, "feed:sh", {"i": i})["epoch"]
        s = sdk(srv)
        try:
            s.next("connected")
            s.cmd(subscribe="feed:sh")
            s.next("subscribed", channel="feed:sh")
            s.cmd(history="feed:sh", limit=-1)
            ev = s.next("history", channel="feed:sh")
            h.check(ev["epoch"] == epoch and ev["offset"] == 3 and
                    ev["publications"] == [{"offset": i, "data": {"i": i}} for i in (1, 2, 3)], f"history {ev}")
            s.cmd(history="feed:sh", limit=1, reverse=True, since={"offset": 3, "epoch": epoch})
            ev = s.next("history", channel="feed:sh")
            h.check(ev["publications"] == [{"offset": 2, "data": {"i": 2}}], f"since, reverse {ev}")
        finally:
            s.kill()


@test
def a_restart_is_a_new_epoch():
    with server(HIST) as srv:
        epoch = publish(srv, "feed:r", 1)["epoch"]
        srv.stop()
        srv.start()
        r = subscribe(Raw(srv), "feed:r", recover=True, offset=1, epoch=epoch)
        h.check(r.get("recovered") is not True and r["epoch"] != epoch and r["offset"] == 0, f"after restart {r}")


@test
def every_subscriber_sees_one_order_across_shards_and_joiners_miss_nothing():
    publishers, per_publisher = 4, 70  # within recovery_max_publication_limit (300)
    total = publishers * per_publisher
    with server(HIST, "--threads", "2") as srv:
        early = [Raw(srv) for _ in range(8)]
        epoch = None
        for c in early:
            epoch = subscribe(c, "feed:o")["epoch"]
        senders = [Raw(srv) for _ in range(publishers)]

        def send(c, n):
            for i in range(per_publisher):
                c.send({"publish": {"channel": "feed:o", "data": {"p": n, "i": i}}})
                time.sleep(0.004)

        threads = [threading.Thread(target=send, args=(c, n)) for n, c in enumerate(senders)]
        for t in threads:
            t.start()
        # joiners arrive mid-stream and recover from the start: replay then live, no seam
        late = []
        for _ in range(12):
            c = Raw(srv)
            r = subscribe(c, "feed:o", recover=True, offset=0, epoch=epoch)
            h.check(r.get("recovered") is True, f"joiner {r}")
            late.append((c, [o for o, _ in pubs(r)]))
            time.sleep(0.02)
        for t in threads:
            t.join()
        seams = sum(1 for _, replay in late if 0 < len(replay) < total)
        h.check(seams >= 3, f"only {seams} joiners arrived mid-stream: the test did not test the seam")

        def offsets(c, seen):
            while not seen or seen[-1] < total:
                for line in c.frames(timeout=10):
                    seen.append(line["push"]["pub"]["offset"])
            return seen

        for c in early:
            got = offsets(c, [])
            h.check(got == list(range(1, total + 1)), f"an early subscriber's offsets: {got[:20]}...")
        for c, replay in late:
            got = offsets(c, list(replay))
            h.check(got == list(range(1, total + 1)), f"a joiner's offsets (replay {len(replay)}): {got[:20]}...")
        for c in senders:
            replies = []
            while len(replies) < per_publisher:
                replies += c.frames()
            h.check(all(r.get("publish") == {} for r in replies), f"publish replies {replies[:3]}")


@test
def a_slow_subscriber_that_counts_offsets_is_told_insufficient_state():
    quiet = dict(HIST, client=dict(HIST["client"], ping_interval="60s"))  # no 3012 while it does not read
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])
    count = (wmem_max + (4 << 20)) // 4000  # past the kernel's buffers on both ends and the backlog
    with server(quiet, "--slow-policy", "drop", "--max-backlog", "65536") as srv:
        slow = Raw(srv, rcvbuf=4096)
        subscribe(slow, "feed:s")
        plain = Raw(srv, rcvbuf=4096)  # the same slow reader on a channel without history: frames skipped
        subscribe(plain, "comments:s")
        publisher = Raw(srv)
        blob = "x" * 4000
        for start in range(0, count, 50):
            for channel in ("feed:s", "comments:s"):
                publisher.send(*({"publish": {"channel": channel, "data": {"i": i, "blob": blob}}}
                                 for i in range(start, min(count, start + 50))))
        code = slow.close_code(timeout=20, skip_pushes=True)  # what the kernel held before it
        h.check(code == 3010, f"the slow subscriber of a history channel: close {code}")
        h.check("push" in plain.frames()[0], "the other is still served, frames skipped")
        h.check(h.metric(h.metrics(srv), "ringcast_frames_dropped_total") > 0, "and counted")


def recovers_across_a_drop(srv, s, channel, subscribed, publication):
    """The SDK `s`, subscribed to `channel` (its events named `subscribed`, `publication`),
    gets offsets 1 and 2 live, misses 3-5 while its transport is gone, gets them back in
    order on its resubscribe, then 6 live."""
    for i in (1, 2):
        publish(srv, channel, {"i": i})
    for i in (1, 2):
        ev = s.next(publication, channel=channel)
        h.check(ev["data"] == {"i": i} and ev["offset"] == i, f"live {ev}")
    s.cmd(drop=True)
    s.until("dropped")  # what comes now reaches no live transport of the SDK
    for i in (3, 4, 5):  # while it is away (or before the server saw it go)
        publish(srv, channel, {"i": i})
    ev = s.until(subscribed, channel=channel)
    h.check(ev["wasRecovering"] is True and ev["recovered"] is True, f"resubscribe {ev}")
    got = [s.next(publication, channel=channel) for _ in range(3)]
    h.check([(e["offset"], e["data"]["i"]) for e in got] == [(3, 3), (4, 4), (5, 5)], f"recovered {got}")
    publish(srv, channel, {"i": 6})
    h.check(s.next(publication, channel=channel)["offset"] == 6, "live after recovery")


@test
def sdk_recovers_across_a_dropped_connection_and_learns_of_a_restart():
    require_node()
    with server(HIST) as srv:
        s = sdk(srv)
        try:
            s.next("connected")
            s.cmd(subscribe="feed:sdk")
            ev = s.next("subscribed", channel="feed:sdk")
            h.check(ev["recoverable"] is True and ev["wasRecovering"] is False, f"first subscribe {ev}")
            recovers_across_a_drop(srv, s, "feed:sdk", "subscribed", "publication")
            srv.stop()
            srv.start()
            ev = s.until("subscribed", channel="feed:sdk")
            h.check(ev["wasRecovering"] is True and ev["recovered"] is False, f"after a restart {ev}")
            publish(srv, "feed:sdk", {"i": 1})
            ev = s.next("publication", channel="feed:sdk")
            h.check(ev["offset"] == 1 and ev["data"] == {"i": 1}, f"the new stream {ev}")
        finally:
            s.kill()


@test
def sdk_recovers_after_a_server_side_disconnect():
    require_node()
    users = dict(HIST, client=dict(HIST["client"], token={"hmac_secret_key": SECRET}))
    with server(users, "--threads", "2") as srv:
        s = sdk(srv, token("dave"))
        try:
            s.next("connected")
            s.cmd(subscribe="feed:kick")
            s.next("subscribed", channel="feed:kick")
            for i in (1, 2):
                publish(srv, "feed:kick", {"i": i})
            for i in (1, 2):
                h.check(s.next("publication", channel="feed:kick")["offset"] == i, "live")
            # a reconnecting code (3000-3499): the SDK comes back and recovers
            h.check(call(srv, "disconnect", {"user": "dave", "disconnect": {"code": 3011, "reason": "force reconnect"}})
                    == (200, {"result": {}}), "disconnect")
            for i in (3, 4):
                publish(srv, "feed:kick", {"i": i})
            s.until("connecting", code=3011)  # a reconnecting code: the SDK is connecting again
            ev = s.until("subscribed", channel="feed:kick")
            h.check(ev["wasRecovering"] is True and ev["recovered"] is True, f"resubscribed {ev}")
            got = [s.next("publication", channel="feed:kick") for _ in range(2)]
            h.check([(e["offset"], e["data"]["i"]) for e in got] == [(3, 3), (4, 4)], f"recovered {got}")
        finally:
            s.kill()



@test
def server_side_subscriptions_count_offsets_and_recover_at_connect():
    # A token's channels in a namespace with force_recovery: the connect reply's subs say
    # where each stream stands; a connect with subs {recover, offset, epoch} gets what it
    # missed in that reply, then the live stream, none twice.
    users = dict(HIST, client=dict(HIST["client"], token={"hmac_secret_key": SECRET}))
    with server(users, "--threads", "2") as srv:
        claim = token("eve", channels=["feed:side", "news"])

        def connect(**subs):
            c = Raw(srv, connect=False)
            reply = c.call({"connect": {"token": claim, **({"subs": subs} if subs else {})}})
            h.check("connect" in reply, f"connect {reply}")
            return c, reply["connect"]["subs"]

        a, subs = connect()
        side = subs["feed:side"]
        h.check(subs["news"] == {} and side.get("recoverable") is True and side.get("positioned") is True and
                side.get("offset") == 0 and len(side.get("epoch", "")) == 8 and "recovered" not in side,
                f"first connect {subs}")
        epoch = side["epoch"]
        for i in (1, 2, 3):
            publish(srv, "feed:side", {"i": i})
        h.check([a.push()["pub"]["offset"] for _ in range(3)] == [1, 2, 3], "live, numbered")
        b, subs = connect(**{"feed:side": {"recover": True, "offset": 1, "epoch": epoch}})
        r = subs["feed:side"]
        h.check(r.get("recovered") is True and r.get("was_recovering") is True and r["offset"] == 1 and
                pubs(r) == [(2, {"i": 2}), (3, {"i": 3})], f"recovered at connect {r}")
        c, subs = connect(**{"feed:side": {"recover": True, "offset": 2, "epoch": "otherone"}})
        r = subs["feed:side"]
        h.check("recovered" not in r and r.get("was_recovering") is True and r["offset"] == 3 and pubs(r) == [],
                f"another epoch {r}")
        publish(srv, "feed:side", {"i": 4})
        for x in (a, b, c):
            p = x.push()["pub"]
            h.check((p["offset"], p["data"]) == (4, {"i": 4}), f"live after the connect {p}")
        expect_metrics(srv, 'ringcast_recoveries_total{result="recovered"} 1', 'ringcast_recoveries_total{result="not_recovered"} 1')


@test
def sdk_recovers_its_server_side_subscriptions():
    require_node()
    users = dict(HIST, client=dict(HIST["client"], token={"hmac_secret_key": SECRET}))
    with server(users) as srv:
        s = sdk(srv, token("fay", channels=["feed:mine"]))
        try:
            s.next("connected")
            ev = s.until("server_subscribed", channel="feed:mine")
            h.check(ev["recoverable"] is True and ev["wasRecovering"] is False and ev["position"]["offset"] == 0,
                    f"server-side subscribe {ev}")
            recovers_across_a_drop(srv, s, "feed:mine", "server_subscribed", "server_publication")
        finally:
            s.kill()


if __name__ == "__main__":
    h.main()
