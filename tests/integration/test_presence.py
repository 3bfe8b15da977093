"""Presence on channels whose namespace keeps it: presence and presence_stats (clients, and
distinct users among them) from raw clients, the server API and the real SDK, kept as
connections subscribe, unsubscribe and close on any shard; refused where the namespace
keeps none (108) or does not let the connection ask (103); a namespace's online_push_interval
pushes every channel's count to its subscribers (danmaku's "12,345 watching")."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import PRESENCE, Raw, call, next_count, require_node, sdk, server, token  # noqa: E402
from protocol_clients import presence_stats as stats  # noqa: E402


def api_stats(srv, channel):
    status, answer = call(srv, "presence_stats", {"channel": channel})
    h.check(status == 200 and "result" in answer, f"API presence_stats: {status} {answer}")
    return answer["result"]


@test
def presence_follows_subscribes_unsubscribes_and_closes():
    with server(PRESENCE, "--threads", "2") as srv:
        alice1 = Raw(srv, token=token("alice", info={"name": "Alice"}))
        alice2 = Raw(srv, token=token("alice"))
        anon = Raw(srv)
        for c in (alice1, alice2, anon):
            c.call({"subscribe": {"channel": "room:1"}})
        want = {"num_clients": 3, "num_users": 2}  # alice twice, and the anonymous user ""
        h.check(stats(anon, "room:1") == want, f"stats {stats(anon, 'room:1')}")
        h.check(api_stats(srv, "room:1") == want, "API stats")
        p = alice1.call({"presence": {"channel": "room:1"}})["presence"]["presence"]
        h.check(set(p) == {alice1.client, alice2.client, anon.client}, f"presence ids {p}")
        h.check(p[alice1.client] == {"user": "alice", "client": alice1.client, "conn_info": {"name": "Alice"}},
                f"alice's entry {p[alice1.client]}")
        h.check(p[anon.client] == {"user": "", "client": anon.client}, f"anonymous entry {p[anon.client]}")
        status, answer = call(srv, "presence", {"channel": "room:1"})
        h.check(status == 200 and answer["result"]["presence"] == p, f"API presence {answer}")
        alice2.call({"unsubscribe": {"channel": "room:1"}})
        h.check(stats(anon, "room:1") == {"num_clients": 2, "num_users": 2}, "after an unsubscribe")
        alice1.c.close()
        h.wait_until(lambda: api_stats(srv, "room:1") == {"num_clients": 1, "num_users": 1}, timeout=5,
                     what="the closed connection gone from presence")
        anon.c.close()
        h.wait_until(lambda: api_stats(srv, "room:1") == {"num_clients": 0, "num_users": 0}, timeout=5,
                     what="an empty channel")
        many = [Raw(srv) for _ in range(12)]  # spread over both shards
        for c in many:
            c.call({"subscribe": {"channel": "room:2"}})
        h.check(api_stats(srv, "room:2") == {"num_clients": 12, "num_users": 1}, "counted over both shards")


@test
def presence_is_refused_where_the_namespace_does_not_give_it():
    with server(PRESENCE) as srv:
        anon = Raw(srv)
        h.check(anon.error({"presence_stats": {"channel": "room:1"}}) == 103, "not a subscriber: 103")
        anon.call({"subscribe": {"channel": "members:1"}})
        h.check(anon.error({"presence": {"channel": "members:1"}}) == 103, "anonymous in members: 103")
        member = Raw(srv, token=token("bob"))
        h.check(stats(member, "members:1") == {"num_clients": 1, "num_users": 1}, "a user may ask unsubscribed")
        anon.call({"subscribe": {"channel": "news"}})
        h.check(anon.error({"presence_stats": {"channel": "news"}}) == 108, "no presence kept: 108")
        h.check(call(srv, "presence_stats", {"channel": "news"})[1]["error"]["code"] == 108, "API: 108")
        h.check(call(srv, "presence", {"channel": "nope:x"})[1]["error"]["code"] == 102, "API: unknown namespace")
        h.check(call(srv, "presence", {})[1]["error"]["code"] == 107, "API: no channel")


@test
def sdk_reads_presence():
    require_node()
    with server(PRESENCE) as srv:
        a, b = sdk(srv), sdk(srv)
        try:
            ids = {a.next("connected")["client"], b.next("connected")["client"]}
            for s in (a, b):
                s.cmd(subscribe="room:sdk")
                s.next("subscribed", channel="room:sdk")
            a.cmd(presence_stats="room:sdk")
            ev = a.next("presence_stats", channel="room:sdk")
            h.check(ev["clients"] == 2 and ev["users"] == 1, f"stats {ev}")
            b.cmd(presence="room:sdk")
            ev = b.next("presence", channel="room:sdk")
            h.check(set(ev["clients"]) == ids, f"presence {ev}")
        finally:
            a.kill()
            b.kill()


@test
def online_counts_are_pushed_to_every_channel_every_interval():
    quiet_pings = dict(PRESENCE, client=dict(PRESENCE["client"], ping_interval="60s"))  # viewers read one at a time
    with server(quiet_pings, "--threads", "2") as srv:
        viewers = [Raw(srv) for _ in range(3)]
        for v in viewers:
            v.call({"subscribe": {"channel": "live:stream"}})
        other = Raw(srv)
        other.call({"subscribe": {"channel": "live:other"}})
        pubs = [next_count(v, "live:stream") for v in viewers]
        h.check(all(p["data"] == pubs[-1]["data"] for p in pubs) and "offset" not in pubs[0] and "info" not in pubs[0],
                f"one publication for all {pubs}")
        # The first push may come before the last viewer joined: the one after counts 3.
        h.check(next_count(viewers[0], "live:stream")["data"] == {"online": 3, "users": 1}, "3 anonymous viewers")
        h.check(next_count(other, "live:other")["data"] == {"online": 1, "users": 1}, "each channel its own")
        viewers.pop().c.close()
        for _ in range(3):  # at most an interval or two until the close is seen
            if next_count(viewers[0], "live:stream")["data"]["online"] == 2:
                break
        else:
            raise AssertionError("the count never went down to 2")
        # A namespace without the option pushes nothing.
        quiet = Raw(srv)
        quiet.call({"subscribe": {"channel": "room:calm"}})
        quiet.silent(2.5)


if __name__ == "__main__":
    h.main()
