"""Nodes joined through a real redis-server (--broker): subscribers of the real SDK and raw
clients spread over three nodes get every publication made on any node (client publish and
server API), once each, in one order per channel; a node's feed subscribes to a channel with
its first local subscriber and unsubscribes with its last, on the Redis that carries the
channel when there are several; Redis killed and started again: publishes fail fast with
error 100 and /healthz says 503 meanwhile, then the nodes reconnect and subscribe again
without a client noticing; the chat room spans the nodes too; bad --broker values get one
line and a non-zero exit."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import API, Raw, call, config_file, conn, require_node, sdk, server  # noqa: E402
from redis_server import Redis, require_redis  # noqa: E402
from redis_server import numsub as redis_numsub  # noqa: E402


# "comments:" channels: anyone may subscribe and publish (protocol_clients.OPEN).
def feed_key(channel):
    return f"ringcast.p.{channel}"


def node(redis, *args):
    urls = redis if isinstance(redis, str) else redis.url
    return server(API, "--broker", urls, "--threads", "2", *args)


def subscribe(srv, channel):
    c = Raw(srv)
    reply = c.call({"subscribe": {"channel": channel}})
    h.check("subscribe" in reply, f"subscribe: {reply}")
    return c


def pushes(c, n, timeout=10):
    """The data of the next `n` publications `c` receives."""
    got = []
    while len(got) < n:
        for line in c.frames(timeout):
            h.check("push" in line and "pub" in line["push"], f"expected a publication, got {line}")
            got.append(line["push"]["pub"]["data"])
    return got


def health(srv):
    status, _, body = srv.http_get("/healthz")
    return status, body.decode()


@test
def a_chat_room_spans_the_nodes():
    # The seed's chat room with Python websockets (Debian's): members on two nodes hear each
    # other's lines, binary relayed as is, joins and leaves, each once.
    try:
        import asyncio
        import websockets
    except ImportError:
        raise h.SkipTest("python3-websockets is missing (scripts/setup.sh --test installs it)")
    require_redis()

    async def line(ws, timeout=10):
        return await asyncio.wait_for(ws.recv(), timeout)

    async def go(a, b, redis):
        def connect(srv):
            return websockets.connect(srv.url("/lobby"), compression=None, ping_interval=None, open_timeout=10)
        x = await connect(a)
        h.wait_until(lambda: redis.numsub("ringcast.r.lobby") == 1, what="a's feed on the room")
        y = await connect(b)
        h.wait_until(lambda: redis.numsub("ringcast.r.lobby") == 2, what="b's feed on the room")
        x_name, y_name = f"ID{x.local_address[1]}", f"ID{y.local_address[1]}"
        # Its own node delivers a member's lines at once (Redis carries them to the others).
        h.check(await line(x) == f"{x_name} joined" and await line(y) == f"{y_name} joined", "each hears its join")
        h.check(await line(x) == f"{y_name} joined", "a's member hears b's join")
        await x.send("hello from a")
        await y.send("hello from b")
        await y.send(b"\x00\xffbin")
        for ws in (x, y):
            got = [await line(ws) for _ in range(3)]
            h.check(sorted(got, key=str) == sorted([f"{x_name}: hello from a", f"{y_name}: hello from b",
                                                    b"\x00\xffbin"], key=str), f"each line once: {got}")
        await y.close()
        h.check(await line(x) == f"{y_name} left", "the leave crosses too")
        h.wait_until(lambda: redis.numsub("ringcast.r.lobby") == 1, what="b's feed off the room")
        await x.close()

    with Redis() as redis, h.Server("--broker", redis.url, "--threads", "2") as a, \
            h.Server("--broker", redis.url, "--threads", "2") as b:
        asyncio.run(asyncio.wait_for(go(a, b, redis), 60))


@test
def subscribers_on_three_nodes_get_every_publication_in_one_order():
    require_node()
    with Redis() as redis, node(redis) as a, node(redis) as b, node(redis) as c:
        nodes = [a, b, c]
        raws = [subscribe(n, "comments:news") for n in nodes]
        sdks = [sdk(n) for n in nodes]
        try:
            for s in sdks:
                s.next("connected")
                s.cmd(subscribe="comments:news")
                s.next("subscribed", channel="comments:news")
            h.wait_until(lambda: redis.numsub(feed_key("comments:news")) == 3, what="each node's feed on the channel")
            publishers = [Raw(n) for n in nodes]
            sent = []
            for rnd in range(5):  # every node in turn, the client protocol and the API alike
                for i, n in enumerate(nodes):
                    d = {"node": i, "round": rnd, "by": "client"}
                    reply = publishers[i].call({"publish": {"channel": "comments:news", "data": d}})
                    h.check(reply.get("publish") == {}, f"publish: {reply}")
                    d2 = {"node": i, "round": rnd, "by": "api"}
                    status, answer = call(n, "publish", {"channel": "comments:news", "data": d2})
                    h.check(status == 200 and answer == {"result": {}}, f"api publish: {status} {answer}")
                    sent += [d, d2]
            orders = [pushes(r, len(sent)) for r in raws]
            for s in sdks:
                orders.append([s.next("publication", channel="comments:news")["data"] for _ in sent])
            for order in orders:
                h.check(sorted(map(json.dumps, order)) == sorted(map(json.dumps, sent)),
                        f"a subscriber got {order}, not each of {sent} once")
                h.check(order == orders[0], f"two orders: {order} and {orders[0]}")
            for r in raws:
                r.silent(0.5)  # nothing twice
            for s in sdks:
                s.quiet(0.3)
            for n in nodes:
                m = h.metrics(n)
                h.check(h.metric(m, "ringcast_broker_messages_total") == len(sent),
                        f"broker messages on a node: {h.metric(m, 'ringcast_broker_messages_total')}")
            published = sum(h.metric(h.metrics(n), "ringcast_broker_published_total") for n in nodes)
            h.check(published == len(sent), f"publishes sent to Redis: {published}")
        finally:
            for s in sdks:
                s.kill()


@test
def ringcast_load_publishes_on_one_node_to_subscribers_of_two_others():
    require_redis()
    load = h.built("bench", "load", "ringcast-load")
    with Redis() as redis, node(redis) as a, node(redis) as b, node(redis) as c:
        urls = ",".join(n.url("/connection/websocket") for n in (b, c))
        p = subprocess.run([load, "rate", "-c", "100", "-r", "100", "-d", "2", "--channel", "comments:load",
                            "--api-key", "ringcast-api-key", "--publish-to", a.url("/connection/websocket"), urls,
                            "--json", "--quiet"], capture_output=True, text=True, timeout=60)
        h.check(p.returncode == 0, f"ringcast-load: {p.stderr}")
        d = json.loads(p.stdout)
        h.check(d["lost"] == 0 and d["protocol_errors"] == 0, f"lost {d['lost']}, errors {d['protocol_errors']}")
        h.check(d["deliveries"] == d["messages_sent"] * 100 and d["messages_sent"] > 100, f"deliveries {d['deliveries']}")
        for n in (b, c):  # the subscribers' nodes, round robin: each node's feed got every one
            got = h.metric(h.metrics(n), "ringcast_broker_messages_total")
            h.check(got == d["messages_sent"], f"node's broker messages {got} of {d['messages_sent']}")
        h.check(h.metric(h.metrics(a), "ringcast_broker_published_total") == d["messages_sent"], "all published on A")


@test
def a_nodes_feed_follows_its_first_and_last_subscriber():
    require_redis()
    with Redis() as redis, node(redis) as a:
        first = subscribe(a, "room")
        second = subscribe(a, "room")  # the same node: still one subscription in Redis
        h.wait_until(lambda: redis.numsub(feed_key("room")) == 1, what="the feed on the channel")
        h.check(redis.numsub(feed_key("room")) == 1, "one feed subscription per node")
        first.c.close()
        status, _ = call(a, "publish", {"channel": "room", "data": {"still": "here"}})
        h.check(status == 200, "publish")
        h.check(pushes(second, 1) == [{"still": "here"}], "the remaining subscriber")
        second.call({"unsubscribe": {"channel": "room"}})
        h.wait_until(lambda: redis.numsub(feed_key("room")) == 0, what="the feed leaving with the last subscriber")
        # A channel nobody on this node reads costs the node nothing: Redis sends it nowhere.
        status, answer = call(a, "publish", {"channel": "room", "data": {"to": "nobody"}})
        h.check(status == 200 and answer == {"result": {}}, f"publish: {answer}")
        h.check(h.metric(h.metrics(a), "ringcast_broker_messages_total") == 1, "no message for an unread channel")


@test
def a_refused_subscribe_makes_the_feed_start_over():
    # Redis's ACLs refuse the channel (NOPERM, once for the batch): the feed connects again
    # and subscribes afresh, so the channel works once Redis allows it.
    require_redis()
    with Redis() as redis, node(redis) as a:
        redis.command("ACL", "SETUSER", "default", "resetchannels", "&ringcast.p.ok*")
        h.check(Raw(a).error({"subscribe": {"channel": "room"}}) == 100, "a refused channel: 100 after the wait")
        h.check("refused a SUBSCRIBE" in a.log(), "the log names the cause")
        h.wait_until(lambda: h.metric(h.metrics(a), "ringcast_broker_reconnects_total") >= 1, what="the feed again")
        redis.command("ACL", "SETUSER", "default", "allchannels")
        # The feed may be in its back-off right now (a subscribe then fails fast with 100).
        h.wait_until(lambda: health(a)[0] == 200, what="the feed up again")
        c = subscribe(a, "room")
        status, _ = call(a, "publish", {"channel": "room", "data": {"now": "allowed"}})
        h.check(status == 200 and pushes(c, 1) == [{"now": "allowed"}], "the channel once Redis allows it")


@test
def channels_spread_over_several_redis_servers():
    require_redis()
    with Redis() as r1, Redis() as r2, node(f"{r1.url},{r2.url}") as a, node(f"{r1.url},{r2.url}") as b:
        channels = [f"comments:{i}" for i in range(24)]
        readers = {ch: subscribe(b, ch) for ch in channels}
        h.wait_until(lambda: sum(r.numsub(feed_key(ch)) for r in (r1, r2) for ch in channels) == len(channels),
                     what="every channel's feed")
        on1 = [ch for ch in channels if r1.numsub(feed_key(ch)) == 1]
        on2 = [ch for ch in channels if r2.numsub(feed_key(ch)) == 1]
        h.check(len(on1) + len(on2) == len(channels) and on1 and on2, f"channels by Redis: {on1} / {on2}")
        publisher = Raw(a)
        for ch in channels:  # node a has no subscriber: it publishes to the Redis that carries ch
            reply = publisher.call({"publish": {"channel": ch, "data": {"ch": ch}}})
            h.check(reply.get("publish") == {}, f"publish: {reply}")
        for ch, r in readers.items():
            h.check(pushes(r, 1) == [{"ch": ch}], f"{ch}'s subscriber")


@test
def redis_killed_and_started_again():
    require_node()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        readers = [subscribe(a, "comments:live"), subscribe(b, "comments:live")]
        watcher = sdk(b)
        try:
            watcher.next("connected")
            watcher.cmd(subscribe="comments:live")
            watcher.next("subscribed", channel="comments:live")
            h.wait_until(lambda: redis.numsub(feed_key("comments:live")) == 2, what="both feeds")
            publisher = Raw(a)
            h.check(health(a) == (200, "ok\nbroker: up\n"), f"healthz: {health(a)}")
            redis.stop()
            for n in (a, b):
                h.wait_until(lambda n=n: health(n)[0] == 503, what="/healthz reporting the broker down")
                h.check(health(n)[1].endswith("broker: down\n"), f"healthz: {health(n)}")
            # Fail fast: the protocol's error at once, not a wait.
            h.check(publisher.error({"publish": {"channel": "comments:live", "data": {"lost": True}}}) == 100,
                    "a client publish while Redis is gone")
            status, answer = call(b, "publish", {"channel": "comments:live", "data": {"lost": True}})
            h.check(status == 200 and answer.get("error", {}).get("code") == 100, f"api publish: {answer}")
            redis.start()
            for n in (a, b):
                h.wait_until(lambda n=n: health(n)[0] == 200, timeout=15, what="the nodes connected again")
            h.wait_until(lambda: redis.numsub(feed_key("comments:live")) == 2, what="both feeds subscribed again")
            reply = publisher.call({"publish": {"channel": "comments:live", "data": {"after": "restart"}}})
            h.check(reply.get("publish") == {}, f"publish: {reply}")
            for r in readers:
                h.check(pushes(r, 1) == [{"after": "restart"}], "a subscriber after the restart")
                r.silent(0.3)
            h.check(watcher.next("publication", channel="comments:live")["data"] == {"after": "restart"}, "the SDK")
            watcher.quiet(0.3)  # it never noticed: no disconnect, no resubscribe
            for n in (a, b):
                m = h.metrics(n)
                h.check(h.metric(m, "ringcast_broker_reconnects_total") >= 3,  # the feed, a link per shard
                        f"reconnects: {h.metric(m, 'ringcast_broker_reconnects_total')}")
            h.check(h.metric(h.metrics(a), "ringcast_broker_publish_failures_total") >= 1, "failures counted")
            h.check("Redis closed the connection" in a.log() and "connected again" in a.log(), a.log()[-2000:])
        finally:
            watcher.kill()


@test
def a_stalled_redis_is_left_and_found_again():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a:
        reader = sdk(a)  # answers the server's pings through the stall (a raw client would not)
        try:
            reader.next("connected")
            reader.cmd(subscribe="comments:stall")
            reader.next("subscribed", channel="comments:stall")
            redis.proc.send_signal(signal.SIGSTOP)  # connected, answering nothing
            try:
                # Queued on the link: answered 100 once the link gives up on Redis (5 s).
                patient = conn(a)
                patient.timeout = 15
                t0 = time.monotonic()
                _, answer = call(a, "publish", {"channel": "comments:stall", "data": "lost"}, c=patient)
                h.check(answer.get("error", {}).get("code") == 100 and time.monotonic() - t0 < 12,
                        f"the first publish: {answer}")
                patient.close()
                # No reply within 5 s (or no pong for an idle link): the links go, /healthz says
                # so, and publishes are refused at once once their shard's link is gone.
                h.wait_until(lambda: health(a)[0] == 503, timeout=12, what="the stalled Redis noticed")

                accepted = [0]

                def refused():
                    # A shard whose link has not given up yet queues it: answered once it does
                    # (100), and Redis may still carry it out when it resumes.
                    c = conn(a)
                    c.timeout = 15
                    t0 = time.monotonic()
                    _, answer = call(a, "publish", {"channel": "comments:stall", "data": "queued"}, c=c)
                    c.close()
                    at_once = time.monotonic() - t0 < 1
                    if not at_once or answer == {"result": {}}:
                        accepted[0] += 1
                    return at_once and answer.get("error", {}).get("code") == 100
                h.wait_until(refused, timeout=12, what="publishes refused while Redis is stalled")
            finally:
                redis.proc.send_signal(signal.SIGCONT)
            h.wait_until(lambda: health(a)[0] == 200, timeout=15, what="the links back")
            h.wait_until(lambda: redis.numsub(feed_key("comments:stall")) == 1, what="subscribed again")
            status, answer = call(a, "publish", {"channel": "comments:stall", "data": "after"})
            h.check(answer == {"result": {}}, f"publish: {answer}")
            # Before it, only publishes that were accepted (queued on a link not yet given up)
            # and carried out when Redis resumed: none that was refused.
            before = []
            while (got := reader.next("publication", channel="comments:stall")["data"]) != "after":
                before.append(got)
            h.check(len(before) <= 1 + accepted[0], f"before 'after': {before}, {accepted[0]} accepted")
            h.check("no reply from Redis within 5 s" in a.log(), a.log()[-1500:])
        finally:
            reader.kill()


@test
def a_node_started_before_redis_waits_for_it():
    require_node()
    require_redis()
    redis = Redis()
    try:
        with node(redis) as a:
            h.check(health(a) == (503, "unavailable\nbroker: down\n"), f"healthz before Redis: {health(a)}")
            # A subscribe is refused at once with the temporary 100; the SDK tries again.
            raw = Raw(a)
            reply = raw.call({"subscribe": {"channel": "early"}})
            h.check(reply.get("error", {}).get("temporary") is True, f"subscribe before Redis: {reply}")
            s = sdk(a)
            try:
                s.next("connected")
                s.cmd(subscribe="early")
                h.check(s.next("sub_error", channel="early")["code"] == 100, "the SDK told")
                redis.start()
                h.wait_until(lambda: health(a)[0] == 200, timeout=15, what="the node connected")
                s.until("subscribed", channel="early", timeout=15)  # its own retry
                status, answer = call(a, "publish", {"channel": "early", "data": 1})
                h.check(status == 200 and answer == {"result": {}}, f"publish: {answer}")
                h.check(s.next("publication", channel="early")["data"] == 1, "a publication after Redis came")
            finally:
                s.kill()
    finally:
        redis.stop()


@test
def the_config_file_names_the_broker_and_its_prefix():
    require_redis()
    with Redis() as redis:
        cfg = dict(API, broker=[redis.url], broker_prefix="blue")
        with server(cfg, "--threads", "1") as a:
            subscribe(a, "x")
            h.wait_until(lambda: redis.numsub("blue.p.x") == 1, what="the prefixed feed")


def refused(*args):
    p = subprocess.run([h.ARGS.ringcast, "--port", "0", *args], capture_output=True, text=True, timeout=10)
    lines = p.stderr.strip().splitlines()
    h.check(p.returncode != 0 and len(lines) == 1, f"{args}: rc {p.returncode}, stderr {p.stderr!r}")
    return lines[0]


def consecutive_free_ports(n):
    """The first of `n` consecutive ports free now (cluster.sh numbers its nodes' ports)."""
    for _ in range(100):
        base = h.free_port()
        try:
            for k in range(1, n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
    raise AssertionError(f"no {n} consecutive free ports")


class Running:
    """A server this test did not start (scripts/cluster.sh's nodes), as the clients see one."""

    def __init__(self, port):
        self.port, self.tls = port, False

    def http_get(self, path):
        return h.Server.http_get(self, path)


@test
def cluster_sh_starts_redis_and_nodes_that_share_publications():
    require_redis()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "cluster.sh")
    base = consecutive_free_ports(2)
    redis_port = h.free_port()
    while redis_port in (base, base + 1):
        redis_port = h.free_port()
    env = dict(os.environ, CLUSTER_BASE_PORT=str(base), CLUSTER_REDIS_PORT=str(redis_port),
               CLUSTER_RINGCAST=h.ARGS.ringcast)
    p = subprocess.Popen(["bash", script, "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nodes = [Running(base), Running(base + 1)]

    def up(n):
        try:
            return health(n)[0] == 200
        except OSError:
            return False
    try:
        for n in nodes:
            h.wait_until(lambda n=n: up(n), timeout=20, what="a cluster node up with its broker")
        reader = subscribe(nodes[1], "room:news")
        h.wait_until(lambda: redis_numsub(redis_port, feed_key("room:news")) == 1, what="node 2's feed")
        status, answer = call(nodes[0], "publish", {"channel": "room:news", "data": {"hi": 1}}, key="cluster-api-key")
        h.check(status == 200 and answer == {"result": {}}, f"publish on node 1: {answer}")
        h.check(pushes(reader, 1) == [{"hi": 1}], "node 2's subscriber")
        reader.c.close()
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=15)
    h.check("node 2:" in out, f"cluster.sh said: {out}")
    for port in (base, base + 1, redis_port):  # it stopped everything it started
        try:
            h.connect(port, timeout=1).close()
        except OSError:
            continue
        raise AssertionError(f"port {port} still answers after cluster.sh stopped")


@test
def bad_broker_values_get_one_line():
    require_redis()
    h.check("expected redis://HOST" in refused("--broker", "http://127.0.0.1:6379"), "scheme")
    line = refused("--broker", "redis://127.0.0.1:1,redis://127.0.0.1:1")
    h.check("twice" in line or "more than once" in line or "duplicate" in line, line)
    huge = dict(API, channel=dict(API["channel"], namespaces=[{"name": "deep", "history_size": 300000,
                                                                 "history_ttl": "60s"}]))
    line = refused("--config", config_file(huge, "huge.json"), "--broker", "redis://127.0.0.1:1")
    h.check("namespace 'deep' keeps history_size 300000" in line and "200000" in line, line)
    bad = dict(API, broker="redis://:0")
    h.check("broker" in refused("--config", config_file(bad, "bad.json")), "a bad broker in the config file")


if __name__ == "__main__":
    h.main()
