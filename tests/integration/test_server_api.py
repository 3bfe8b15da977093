"""The server HTTP API on POST /api/<method>: a backend publishes with curl and Python's
http.client, and the real `centrifuge` SDK and raw protocol clients receive it; broadcast
answers per channel; the API key is checked (401), and bad bodies, unknown methods,
oversized bodies and methods not served yet get their documented answers while the
server keeps serving."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import (API, KEY, OPEN, SECRET, Raw, call, config_file, conn, expect_metrics,  # noqa: E402
                              require_node, sdk, server, token)

@test
def curl_publishes_to_sdk_and_raw_subscribers():
    require_node()
    with server(API) as srv:
        a = sdk(srv)
        try:
            a.next("connected")
            a.cmd(subscribe="news")
            a.next("subscribed", channel="news")
            raw = Raw(srv)
            raw.call({"subscribe": {"channel": "news"}})
            tls = ["--cacert", h.tls_files()[0]] if srv.tls else []
            out = subprocess.run(["curl", "-sS", *tls, "-H", f"X-API-Key: {KEY}", "-X", "POST",
                                  "--data", '{"channel": "news", "data": {"text": "from the backend"}}',
                                  srv.http_url("/api/publish")], capture_output=True, timeout=10)
            h.check(out.returncode == 0 and json.loads(out.stdout) == {"result": {}},
                    f"curl: {out.returncode} {out.stdout!r} {out.stderr!r}")
            ev = a.next("publication", channel="news")
            h.check(ev["data"] == {"text": "from the backend"} and ev["info"] is None, f"sdk publication {ev}")
            text = raw.c.recv_text(5)
            h.check(text == '{"push":{"channel":"news","pub":{"data":{"text": "from the backend"}}}}', f"push {text}")
        finally:
            a.kill()


@test
def publications_keep_their_order_on_one_keepalive_connection():
    with server(API) as srv:
        raw = Raw(srv)
        raw.call({"subscribe": {"channel": "ticker:AAPL"}})
        c = conn(srv)
        for i in range(200):
            status, answer = call(srv, "publish", {"channel": "ticker:AAPL", "data": {"px": i}}, c=c)
            h.check(status == 200 and answer == {"result": {}}, f"publish {i}: {status} {answer}")
        c.close()
        got = []
        while len(got) < 200:
            got += [line["push"]["pub"]["data"]["px"] for line in raw.frames()]
        h.check(got == list(range(200)), f"order: {got[:10]}...")


@test
def broadcast_answers_per_channel():
    with server(API) as srv:
        a, b = Raw(srv), Raw(srv)
        a.call({"subscribe": {"channel": "a"}})
        b.call({"subscribe": {"channel": "comments:b"}})
        status, answer = call(srv, "broadcast", {"channels": ["a", "comments:b", "nope:x", "nobody"], "data": "hi"})
        h.check(status == 200 and answer == {"result": {"responses": [
            {"result": {}}, {"result": {}}, {"error": {"code": 102, "message": "unknown channel"}}, {"result": {}}]}},
            f"broadcast: {status} {answer}")
        h.check(a.push() == {"channel": "a", "pub": {"data": "hi"}}, "a's push")
        h.check(b.push() == {"channel": "comments:b", "pub": {"data": "hi"}}, "b's push")


@test
def bad_calls_get_their_answers():
    with server(API, "--max-http-body", "4096") as srv:
        good = {"channel": "a", "data": 1}
        h.check(call(srv, "publish", good, key=None)[0] == 401, "no key")
        h.check(call(srv, "publish", good, key="wrong")[0] == 401, "wrong key")
        h.check(call(srv, "publish", good, key=KEY + "x")[0] == 401, "longer key")
        h.wait_until(lambda: "missing or wrong X-API-Key" in srv.log(), timeout=5, what="the refusal in the log")
        h.check(call(srv, "frobnicate", good)[0] == 404, "unknown method")
        h.check(call(srv, "publish", good, http_method="GET")[0] == 405, "GET")
        status, headers, body = srv.http_get("/api/publish", method="HEAD")
        h.check(status == 405 and headers.get("allow") == "POST" and body == b"", f"HEAD: {status} {headers} {body!r}")
        h.check(call(srv, "publish", "not json")[0] == 400, "not JSON")
        h.check(call(srv, "publish", '{"channel": 7, "data": 1}')[0] == 400, "wrong type")
        h.check(call(srv, "publish", {"channel": "a"}) == (200, {"error": {"code": 107, "message": "bad request"}}),
                "no data")
        h.check(call(srv, "publish", {"data": 1})[1]["error"]["code"] == 107, "no channel")
        h.check(call(srv, "publish", {"channel": "nope:x", "data": 1})[1]["error"]["code"] == 102, "unknown namespace")
        h.check(call(srv, "history", {"channel": "a"})[1]["error"]["code"] == 108, "history where none is kept")
        h.check(call(srv, "publish", {"channel": "a", "data": "x" * 5000})[0] == 413, "over --max-http-body")
        sub = Raw(srv)  # after all that, the server still serves
        sub.call({"subscribe": {"channel": "a"}})
        h.check(call(srv, "publish", good) == (200, {"result": {}}), "a good call")
        h.check(sub.push()["pub"]["data"] == 1, "its push")
        expect_metrics(srv, 'ringcast_api_calls_total{method="publish",status="401"} 3',
                       'ringcast_api_calls_total{method="unknown",status="404"} 1',
                       'ringcast_api_calls_total{method="publish",status="405"} 2',
                       'ringcast_api_calls_total{method="publish",status="400"} 2',
                       'ringcast_api_calls_total{method="history",status="200"} 1',
                       'ringcast_publications_total{source="api"} 1')


@test
def channels_and_info_describe_the_node():
    with server(API, "--threads", "2") as srv:
        clients = [Raw(srv) for _ in range(6)]
        for i, c in enumerate(clients):
            c.call({"subscribe": {"channel": "comments:a" if i < 4 else "comments:b"}})
        clients[0].call({"subscribe": {"channel": "ticker:btc"}})
        chat = h.RawClient(srv.port, "/lobby")  # a chat room is no channel
        status, answer = call(srv, "channels", {})
        want = {"comments:a": {"num_clients": 4}, "comments:b": {"num_clients": 2}, "ticker:btc": {"num_clients": 1}}
        h.check(status == 200 and answer == {"result": {"channels": want}}, f"channels {answer}")
        h.check(call(srv, "channels", {"pattern": "comments:*"})[1]["result"]["channels"] ==
                {k: v for k, v in want.items() if k.startswith("comments:")}, "a pattern")
        h.check(call(srv, "channels", {"pattern": "Comments:*"})[1] == {"result": {"channels": {}}}, "case matters")
        h.check(call(srv, "channels", {"pattern": 5})[0] == 400, "a pattern of the wrong type")
        status, answer = call(srv, "info", {})
        nodes = answer["result"]["nodes"]
        h.check(status == 200 and len(nodes) == 1, f"info {answer}")
        n = nodes[0]
        h.check(n["num_clients"] == 7 and n["num_channels"] == 3 and n["version"] and len(n["uid"]) == 36 and
                n["name"] and n["uptime"] >= 0, f"the node {n}")
        clients[5].c.close()
        h.wait_until(lambda: "comments:b" in call(srv, "channels", {})[1]["result"]["channels"] and
                     call(srv, "channels", {})[1]["result"]["channels"]["comments:b"]["num_clients"] == 1,
                     timeout=5, what="a closed subscriber gone from channels")
        chat.close()


@test
def batch_answers_each_command_in_order():
    with server(API) as srv:
        sub = Raw(srv)
        sub.call({"subscribe": {"channel": "a"}})
        body = {"commands": [
            {"publish": {"channel": "a", "data": {"n": 1}}},
            {"publish": {"channel": "nope:x", "data": 1}},
            {"broadcast": {"channels": ["a", "comments:b"], "data": {"n": 2}}},
            {"presence_stats": {"channel": "a"}},
            {"frobnicate": {}},
            {"publish": {"channel": 5, "data": 1}},
            {"batch": {"commands": []}},
            {"info": {}},
        ], "parallel": True}
        status, answer = call(srv, "batch", body)
        h.check(status == 200 and len(answer.get("replies", [])) == 8, f"batch {status} {answer}")
        r = answer["replies"]
        h.check(r[0] == {"publish": {}}, f"publish {r[0]}")
        h.check(r[1] == {"error": {"code": 102, "message": "unknown channel"}}, f"unknown namespace {r[1]}")
        h.check(r[2] == {"broadcast": {"responses": [{"result": {}}, {"result": {}}]}}, f"broadcast {r[2]}")
        h.check(r[3]["error"]["code"] == 108, f"no presence kept {r[3]}")
        h.check(r[4]["error"]["code"] == 104, f"unknown method {r[4]}")
        h.check(r[5]["error"]["code"] == 107, f"bad parameters {r[5]}")
        h.check(r[6]["error"]["code"] == 108, f"a batch in a batch {r[6]}")
        h.check(r[7]["info"]["nodes"][0]["num_clients"] == 1, f"info {r[7]}")
        h.check([sub.push()["pub"]["data"] for _ in range(2)] == [{"n": 1}, {"n": 2}], "the publications, in order")
        h.check(call(srv, "batch", {"commands": {}})[0] == 400, "commands not an array")
        h.check(call(srv, "batch", {"commands": [{"publish": {}, "history": {}}]})[0] == 400, "two methods in one")
        h.check(call(srv, "batch", {"commands": [7]})[0] == 400, "a command not an object")
        h.check(call(srv, "batch", '{"commands": [}')[0] == 400, "not JSON")
        h.check(call(srv, "batch", {}) == (200, {"replies": []}), "no commands")
        expect_metrics(srv, 'ringcast_api_calls_total{method="batch",status="200"} 3',  # one inside
                       'ringcast_api_calls_total{method="batch",status="400"} 4',
                       'ringcast_api_calls_total{method="publish",status="200"} 2',
                       'ringcast_api_calls_total{method="publish",status="400"} 1')


USERS = dict(API, client=dict(OPEN["client"], token={"hmac_secret_key": SECRET}))


@test
def disconnect_and_unsubscribe_reach_a_users_connections_on_every_shard():
    with server(USERS, "--threads", "2") as srv:
        alice = [Raw(srv, token=token("alice")) for _ in range(4)]
        bob = Raw(srv, token=token("bob"))
        for c in alice + [bob]:
            c.call({"subscribe": {"channel": "comments:x"}})
        h.check(call(srv, "unsubscribe", {"user": "alice", "channel": "comments:x"}) == (200, {"result": {}}), "unsubscribe")
        for c in alice:
            p = c.push()
            h.check(p == {"channel": "comments:x", "unsubscribe": {"code": 2000, "reason": "server unsubscribe"}},
                    f"unsubscribe push {p}")
        call(srv, "publish", {"channel": "comments:x", "data": 1})
        h.check(bob.push()["pub"]["data"] == 1, "bob still subscribed")
        for c in alice:
            c.silent(0.2)  # no longer subscribed
        status, answer = call(srv, "disconnect", {"user": "alice", "whitelist": [alice[3].client]})
        h.check((status, answer) == (200, {"result": {}}), f"disconnect {answer}")
        for c in alice[:3]:
            h.check(c.close_code() == 3503, "force disconnect")
        alice[3].call({"subscribe": {"channel": "comments:y"}})  # the whitelisted one stays
        call(srv, "disconnect", {"user": "alice", "client": alice[3].client, "disconnect": {"code": 4001, "reason": "bye"}})
        h.check(alice[3].close_code() == 4001, "a custom code")
        bob.call({"subscribe": {"channel": "comments:y"}})  # and bob was never touched
        for bad in ({"channel": "comments:x"}, {"user": "", "channel": "comments:x"}):
            h.check(call(srv, "unsubscribe", bad)[1]["error"]["code"] == 107, f"unsubscribe {bad}")
        h.check(call(srv, "unsubscribe", {"user": "bob"})[1]["error"]["code"] == 107, "unsubscribe without a channel")
        h.check(call(srv, "unsubscribe", {"user": "bob", "channel": "nope:x"})[1]["error"]["code"] == 102, "namespace")
        for d in ({"code": 1000, "reason": "x"}, {"code": 3000, "reason": "r" * 124}):
            h.check(call(srv, "disconnect", {"user": "bob", "disconnect": d})[1]["error"]["code"] == 107, f"{d}")
        h.check(call(srv, "disconnect", {"user": "bob", "whitelist": "x"})[0] == 400, "whitelist of the wrong type")
        bob.call({"subscribe": {"channel": "comments:z"}})


@test
def sdk_is_told_to_stay_away_by_a_disconnect():
    require_node()
    with server(USERS) as srv:
        s = sdk(srv, token("carol"))
        try:
            s.next("connected")
            h.check(call(srv, "disconnect", {"user": "carol"}) == (200, {"result": {}}), "disconnect")
            ev = s.until("disconnected")
            h.check(ev["code"] == 3503, f"disconnected {ev}")
            s.quiet(1.0)  # no reconnect
        finally:
            s.kill()


@test
def no_key_configured_refuses_the_api_unless_insecure():
    with server() as srv:  # OPEN: no http_api
        h.check(call(srv, "publish", {"channel": "a", "data": 1})[0] == 401, "no http_api.key")
        h.wait_until(lambda: "http_api.key is not set" in srv.log(), timeout=5, what="the cause in the log")
    with server(dict(OPEN, http_api={"insecure": True})) as srv:
        h.check(call(srv, "publish", {"channel": "a", "data": 1}, key=None) == (200, {"result": {}}), "insecure")


@test
def bad_http_api_config_is_one_line_and_exit_2():
    path = config_file('{"http_api": {"key": 7}}', "bad-api.json")
    p = subprocess.run([h.ARGS.ringcast, "--port", "0", "--config", path, *h.backend_args()],
                       capture_output=True, timeout=10)
    err = p.stderr.decode()
    h.check(p.returncode == 2 and "http_api.key" in err and len(err.strip().splitlines()) == 1, f"{p.returncode} {err!r}")


if __name__ == "__main__":
    h.main()
