"""Presence across nodes joined through a real redis-server (--broker): presence and
presence_stats read on any node count every node's clients (distinct users once), from raw
clients and the real SDK, as connections subscribe, unsubscribe and close; keepalives keep a
client's entry from expiring and an entry past its expiry (a dead node's) is dropped on the
next read; online_push_interval pushes every node's count; a presence read with Redis gone
gets error 100 at once."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import KEY, Raw, call, require_node, sdk, server, token  # noqa: E402
from redis_server import Redis, Relay, require_redis  # noqa: E402
from protocol_clients import PRESENCE, next_count, presence_stats as stats  # noqa: E402


# Raw clients answer pings only while they read: these tests ping once a minute, but where
# a keepalive is the point.
QUIET = dict(PRESENCE, client=dict(PRESENCE["client"], ping_interval="60s"))


def node(redis, cfg=QUIET):
    return server(cfg, "--broker", redis.url, "--threads", "2")


def ids(c, channel):
    reply = c.call({"presence": {"channel": channel}})
    h.check("presence" in reply, f"presence: {reply}")
    return reply["presence"]["presence"]


@test
def presence_counts_every_nodes_clients():
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        alice_a = Raw(a, token=token("alice", info={"name": "Alice"}))
        alice_b = Raw(b, token=token("alice"))
        anon_b = Raw(b)
        for c in (alice_a, alice_b, anon_b):
            c.call({"subscribe": {"channel": "room:1"}})
        want = {"num_clients": 3, "num_users": 2}  # alice on both nodes is one user
        for c in (alice_a, anon_b):
            h.wait_until(lambda: stats(c, "room:1") == want, timeout=5, what=f"every node's clients ({stats(c, 'room:1')})")
        p = ids(alice_a, "room:1")
        h.check(set(p) == {alice_a.client, alice_b.client, anon_b.client}, f"presence ids {p}")
        h.check(p[alice_a.client] == {"user": "alice", "client": alice_a.client, "conn_info": {"name": "Alice"}},
                f"alice's entry, info and all {p[alice_a.client]}")
        h.check(p[anon_b.client] == {"user": "", "client": anon_b.client}, f"the anonymous entry {p[anon_b.client]}")
        alice_b.call({"unsubscribe": {"channel": "room:1"}})
        h.wait_until(lambda: stats(alice_a, "room:1") == {"num_clients": 2, "num_users": 2}, timeout=5,
                     what="an unsubscribe on the other node")
        anon_b.c.close()
        h.wait_until(lambda: set(ids(alice_a, "room:1")) == {alice_a.client}, timeout=5,
                     what="a close on the other node")
        # A user allowed to ask without subscribing sees the others too (members: allow_presence_for_client).
        m = Raw(a)
        m.call({"subscribe": {"channel": "members:x"}})
        bob = Raw(b, token=token("bob"))
        h.wait_until(lambda: stats(bob, "members:x") == {"num_clients": 1, "num_users": 1}, timeout=5,
                     what="members counted from a node nobody there subscribes on")


def api(srv, method, channel):
    status, answer = call(srv, method, {"channel": channel})
    h.check(status == 200 and "result" in answer, f"API {method}: {status} {answer}")
    return answer["result"]


@test
def the_server_api_reads_every_nodes_presence():
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        x, y = Raw(a, token=token("alice")), Raw(b, token=token("bob"))
        for c in (x, y):
            c.call({"subscribe": {"channel": "room:api"}})
        for srv in (a, b):
            h.wait_until(lambda: api(srv, "presence_stats", "room:api") == {"num_clients": 2, "num_users": 2},
                         timeout=5, what="both nodes' clients in the API's stats")
        h.check(set(api(a, "presence", "room:api")["presence"]) == {x.client, y.client}, "the API's presence")
        # Pipelined on one connection: each answer waits for Redis, and they come in order.
        body = json.dumps({"channel": "room:api"})
        one = lambda m: (f"POST /api/{m} HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"  # noqa: E731
                         f"Content-Length: {len(body)}\r\n\r\n{body}")
        with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
            s.sendall((one("presence_stats") + one("presence") + one("info")).encode())
            got = b""
            while got.count(b"HTTP/1.1 200") < 3 or not got.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                h.check(chunk, f"the connection closed early: {got}")
                got += chunk
        bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in got.split(b"HTTP/1.1 ")[1:]]
        h.check(bodies[0] == {"result": {"num_clients": 2, "num_users": 2}}, f"first the stats: {bodies[0]}")
        h.check(set(bodies[1]["result"]["presence"]) == {x.client, y.client}, f"then presence: {bodies[1]}")
        h.check("uptime" in json.dumps(bodies[2]), f"then info: {bodies[2]}")
        status, answer = call(a, "batch", {"commands": [{"presence": {"channel": "room:api"}}]})
        h.check(status == 200 and answer["replies"][0]["error"]["code"] == 108, f"in a batch: {answer}")
        redis.stop()
        status, answer = call(a, "presence_stats", {"channel": "room:api"})
        h.check(status == 200 and answer["error"]["code"] == 100, f"Redis gone: {answer}")


@test
def a_waiting_api_answer_reaches_its_own_client_only():
    require_redis()
    with Redis() as redis, Relay(redis.port) as relay, node(redis) as a, \
            server(QUIET, "--broker", relay.url, "--threads", "1", "--handshake-timeout", "1s") as b:
        h.wait_until(lambda: b.http_get("/healthz")[0] == 200, what="b's links to Redis up")
        Raw(a).call({"subscribe": {"channel": "room:gone"}})
        relay.stall("commands")
        body = json.dumps({"channel": "room:gone"})
        head = f"POST /api/presence_stats HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
        for _ in range(3):  # each waits for Redis, and goes before it answers
            with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
                s.sendall((head + body).encode())
                time.sleep(0.1)
        # A new connection in a closed one's slot gets its own answer only, once.
        with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
            s.sendall((head + body).encode())
            time.sleep(0.2)
            relay.flow("commands")
            got = b""
            while not got.endswith(b"}}"):
                chunk = s.recv(65536)
                h.check(chunk, f"closed early: {got}")
                got += chunk
            s.settimeout(0.5)
            try:
                more = s.recv(65536)
            except TimeoutError:
                more = b""
        h.check(got.count(b"HTTP/1.1") == 1 and got.endswith(b'{"result":{"num_clients":1,"num_users":1}}'), f"{got}")
        h.check(more == b"", f"nothing else: {more}")
        # Half-closed after its request, and waiting past --handshake-timeout: still answered,
        # then the connection ends.
        relay.stall("commands")
        with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
            s.sendall((head + body).encode())
            s.shutdown(socket.SHUT_WR)
            time.sleep(1.6)
            relay.flow("commands")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        h.check(got.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in got and
                got.endswith(b'{"result":{"num_clients":1,"num_users":1}}'), f"half-closed: {got}")
        h.check(api(b, "presence_stats", "room:gone") == {"num_clients": 1, "num_users": 1}, "b answers as before")


@test
def keepalives_refresh_entries_and_expired_ones_are_dropped():
    require_redis()
    with Redis() as redis, node(redis, PRESENCE) as a:
        c = Raw(a)  # pinged every second: each keepalive refreshes the entry
        c.call({"subscribe": {"channel": "room:k"}})
        zset = "ringcast.z.room:k"
        h.wait_until(lambda: redis.command("ZSCORE", zset, c.client) is not None, timeout=5, what="the entry in Redis")
        first = float(redis.command("ZSCORE", zset, c.client))
        h.check(first > time.time() * 1000 + 50_000, f"it expires a TTL from now ({first})")
        c.silent(3)  # answering pings
        h.check(float(redis.command("ZSCORE", zset, c.client)) > first, "a keepalive moved the expiry on")
        h.check(0 < int(redis.command("TTL", "ringcast.h.room:k")) <= 60, "the keys expire with their channel")
        # A client of a node that died: its expiry passed, nobody refreshes it.
        value = b"5:ghost2:{}"
        redis.command("HSET", "ringcast.h.room:k", "dead-client", value)
        redis.command("HINCRBY", "ringcast.u.room:k", "ghost", 1)
        redis.command("ZADD", zset, int(time.time() * 1000) - 1000, "dead-client")
        redis.command("HSET", "ringcast.h.room:k", "not-ours", "garbage")  # skipped, not answered
        redis.command("ZADD", zset, int(time.time() * 1000) + 60_000, "not-ours")
        p = ids(c, "room:k")
        h.check(set(p) == {c.client}, f"the expired and the malformed are not there: {p}")
        h.check(redis.command("HEXISTS", "ringcast.h.room:k", "dead-client") == 0, "the expired entry is gone")
        h.check(redis.command("HGETALL", "ringcast.u.room:k") == ["", "1"], "the dead one's user gone with it")
        redis.command("HDEL", "ringcast.h.room:k", "not-ours")
        h.check(stats(c, "room:k") == {"num_clients": 1, "num_users": 1}, "stats")


@test
def online_counts_are_every_nodes():
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        x = Raw(a)
        x.call({"subscribe": {"channel": "live:s"}})
        ys = [Raw(b, token=token("u")) for _ in range(2)]
        for y in ys:
            y.call({"subscribe": {"channel": "live:s"}})
        for _ in range(4):  # a push may come before every join reached Redis
            if next_count(x, "live:s")["data"] == {"online": 3, "users": 2}:
                break
        else:
            raise AssertionError("node a never counted node b's viewers")
        h.check(next_count(ys[0], "live:s")["data"] == {"online": 3, "users": 2}, "node b pushes the same count")


@test
def sdk_reads_presence_across_nodes():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        x, y = sdk(a), sdk(b)
        try:
            both = {x.next("connected")["client"], y.next("connected")["client"]}
            for s in (x, y):
                s.cmd(subscribe="room:sdk")
                s.next("subscribed", channel="room:sdk")
            for _ in range(50):
                x.cmd(presence="room:sdk")
                ev = x.next("presence", channel="room:sdk")
                if set(ev["clients"]) == both:
                    break
                time.sleep(0.1)
            h.check(set(ev["clients"]) == both, f"presence {ev}")
            y.cmd(presence_stats="room:sdk")
            ev = y.next("presence_stats", channel="room:sdk")
            h.check(ev["clients"] == 2 and ev["users"] == 1, f"stats {ev}")
        finally:
            x.kill()
            y.kill()


@test
def a_presence_read_without_redis_fails_fast():
    require_redis()
    with Redis() as redis, node(redis) as a:
        c = Raw(a)
        c.call({"subscribe": {"channel": "room:r"}})
        redis.stop()
        t0 = time.monotonic()
        h.wait_until(lambda: c.error({"presence_stats": {"channel": "room:r"}}) == 100, timeout=10,
                     what="error 100 while Redis is gone")
        h.check(time.monotonic() - t0 < 8, "within the link's timeout")


if __name__ == "__main__":
    h.main()
