"""History and recovery across nodes joined through a real redis-server (--broker): every
node tells its subscribers the stream Redis keeps (one epoch, one offset sequence,
whichever node published), and a history read on a node nobody subscribes on reads it
from Redis; a client whose node died recovers on the node that replaces it;
a node whose feed Redis dropped (CLIENT KILL TYPE pubsub) delivers what it missed from the
stream, once each, without its clients noticing; Redis restarted without its data, or a
node cut off from Redis for longer than the stream keeps, makes subscribers subscribe again
and be told they could not recover, and nothing past the gap reaches them first; an
unsubscribe drops the subscribe it overtook while that waited for Redis (not a history
read), such waiting subscribes count against client.channel_limit and at most 16 reads
wait per connection; a subscribe that needs the stream while
Redis is gone gets the temporary error 100 at once."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import API, SECRET, Raw, book, call, config_file, fossil_apply, require_node, sdk, server  # noqa: E402
from protocol_clients import token  # noqa: E402
from redis_server import Redis, Relay, require_redis  # noqa: E402

# "feed:" keeps history and recovers; anyone may subscribe and publish.
HIST = dict(API, channel=dict(API["channel"], namespaces=API["channel"]["namespaces"] + [
    {"name": "feed", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
     "allow_publish_for_client": True, "allow_publish_for_anonymous": True, "allow_history_for_client": True,
     "allow_history_for_anonymous": True, "history_size": 100, "history_ttl": "300s", "force_recovery": True},
    {"name": "short", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
     "allow_publish_for_client": True, "allow_publish_for_anonymous": True, "history_size": 3,
     "history_ttl": "300s", "force_recovery": True},
    {"name": "plain", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
     "allow_publish_for_client": True, "allow_publish_for_anonymous": True, "history_size": 10,
     "history_ttl": "300s"},
    {"name": "book", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
     "history_size": 100, "history_ttl": "300s", "force_recovery": True, "allowed_delta_types": ["fossil"]}]))


def node(redis):
    return server(HIST, "--broker", redis.url, "--threads", "2")


def publish(srv, channel, data):
    """The offset Redis gave the publication (the API answers once Redis took it)."""
    status, answer = call(srv, "publish", {"channel": channel, "data": data})
    h.check(status == 200 and set(answer.get("result", {})) == {"offset", "epoch"}, f"api publish: {status} {answer}")
    return answer["result"]["offset"]


def subscribed(s, channel, **match):
    s.cmd(subscribe=channel)
    return s.next("subscribed", channel=channel, **match)


def publications(s, channel, n):
    return [(p["offset"], p["data"]) for p in (s.next("publication", channel=channel) for _ in range(n))]


def links_up(srv):
    h.wait_until(lambda: srv.http_get("/healthz")[0] == 200, what="the node's links to Redis up")


def frames_of(c, n):
    """The next `n` lines `c` receives, over as many frames as they take."""
    lines = []
    while len(lines) < n:
        lines += c.frames()
    return lines


def before(s, kind, timeout=20, **match):
    """The SDK's events up to the next `kind` (with fields `match`), that one last."""
    seen = []
    while not seen or seen[-1]["event"] != kind or any(seen[-1].get(k) != v for k, v in match.items()):
        seen.append(s.events.get(timeout=timeout))
    return seen


@test
def every_node_numbers_a_channel_as_redis_does():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b, node(redis) as c:
        nodes = [a, b, c]
        clients = [sdk(n) for n in nodes]
        try:
            for s in clients:
                s.next("connected")
            first = [subscribed(s, "feed:x") for s in clients]
            epochs = {ev["position"]["epoch"] for ev in first}
            h.check(len(epochs) == 1 and all(ev["position"]["offset"] == 0 for ev in first),
                    f"every node tells the one stream: {first}")
            sent = []
            publisher = Raw(c)
            for rnd in range(3):
                for i, n in enumerate(nodes):
                    publish(n, "feed:x", {"api": i, "round": rnd})
                    reply = publisher.call({"publish": {"channel": "feed:x", "data": {"client": i, "round": rnd}}})
                    h.check(reply.get("publish") == {}, f"client publish: {reply}")
                    sent += [{"api": i, "round": rnd}, {"client": i, "round": rnd}]
            got = [publications(s, "feed:x", len(sent)) for s in clients]
            for g in got:
                h.check([o for o, _ in g] == list(range(1, len(sent) + 1)), f"offsets {[o for o, _ in g]}")
                h.check(g == got[0], "one order on every node")
            h.check(sorted(str(d) for _, d in got[0]) == sorted(str(d) for d in sent), "each publication once")
            # The history a subscriber reads is the same stream, from any node.
            clients[2].cmd(history="feed:x", limit=3)
            hist = clients[2].next("history", channel="feed:x")
            h.check([p["offset"] for p in hist["publications"]] == [1, 2, 3] and hist["epoch"] in epochs,
                    f"history: {hist}")
            for s in clients:
                s.quiet(0.3)
        finally:
            for s in clients:
                s.kill()


@test
def api_publishes_one_after_the_other_are_numbered_in_that_order():
    # Each call on a new connection (any shard, any node): answered once Redis numbered it,
    # so the next one is numbered after it, and every subscriber gets them in that order.
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        sub = Raw(b)
        sub.call({"subscribe": {"channel": "feed:o"}})
        h.wait_until(lambda: redis.numsub("ringcast.p.feed:o") == 1, what="b's feed on the channel")
        answers = []
        for i in range(30):
            status, answer = call((a, b)[i % 2], "publish", {"channel": "feed:o", "data": {"n": i}})
            h.check(status == 200 and "result" in answer, f"publish {i}: {status} {answer}")
            answers.append(answer["result"])
        h.check([r["offset"] for r in answers] == list(range(1, 31)), f"offsets in call order: {answers}")
        h.check(len({r["epoch"] for r in answers}) == 1, "one epoch")
        got = [line["push"]["pub"] for line in frames_of(sub, 30)]
        h.check([(p["offset"], p["data"]["n"]) for p in got] == [(i + 1, i) for i in range(30)], f"in order: {got}")
        # Without history a publish is answered once Redis took it too, with nothing in it.
        status, answer = call(a, "publish", {"channel": "comments:x", "data": {}})
        h.check(status == 200 and answer == {"result": {}}, f"plain publish: {answer}")
        redis.stop()
        status, answer = call(a, "publish", {"channel": "feed:o", "data": {}})
        h.check(status == 200 and answer.get("error", {}).get("code") == 100, f"Redis gone: {answer}")


@test
def a_client_of_a_dead_node_recovers_on_its_replacement():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as b:
        a = h.Server("--config", config_file(HIST), "--broker", redis.url, "--threads", "2")
        a.start()
        s = sdk(a)
        # One connection publishes: one shard's link, so Redis numbers them in this order (the
        # API's publishes on separate connections may reach Redis through different shards).
        publisher = Raw(b)

        def publish_in_order(data):
            h.check(publisher.call({"publish": {"channel": "feed:y", "data": data}}).get("publish") == {}, "publish")
        try:
            s.next("connected")
            epoch = subscribed(s, "feed:y")["position"]["epoch"]
            for k in range(3):
                publish_in_order({"k": k})
            got = publications(s, "feed:y", 3)
            h.check(got == [(1, {"k": 0}), (2, {"k": 1}), (3, {"k": 2})], f"before the kill: {got}")
            a.proc.kill()  # no goodbye: the SDK reconnects to the same address
            a.proc.wait()
            for k in range(3, 5):
                publish_in_order({"k": k})  # while the client has no node
            a.start()  # a new process: it knows the channel only from Redis
            ev = s.until("subscribed", channel="feed:y", timeout=20)
            h.check(ev["wasRecovering"] and ev["recovered"] and ev["position"]["epoch"] == epoch, f"recovery: {ev}")
            got = publications(s, "feed:y", 2)
            h.check(got == [(4, {"k": 3}), (5, {"k": 4})], f"what it missed, once: {got}")
            publish(b, "feed:y", {"k": 5})  # one: no order to keep (the raw publisher sat idle)
            h.check(publications(s, "feed:y", 1) == [(6, {"k": 5})], "live again")
            s.quiet(0.3)
        finally:
            s.kill()
            a.stop()


@test
def a_node_that_lost_its_feed_delivers_what_it_missed_from_the_stream():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        s = sdk(b)
        try:
            s.next("connected")
            subscribed(s, "feed:z")
            publish(a, "feed:z", {"n": 0})
            h.check(publications(s, "feed:z", 1) == [(1, {"n": 0})], "live")
            publisher = Raw(a)  # one connection: Redis numbers its publishes in their order
            killed = redis.command("CLIENT", "KILL", "TYPE", "pubsub")  # b's feed (a's subscribes to nothing)
            h.check(killed == 1, f"the feed dropped: {killed}")
            for n in range(1, 6):  # the feeds are reconnecting: Redis keeps these in the stream only
                reply = publisher.call({"publish": {"channel": "feed:z", "data": {"n": n}}})
                h.check(reply.get("publish") == {}, f"publish: {reply}")
            got = publications(s, "feed:z", 5)
            h.check(got == [(n + 1, {"n": n}) for n in range(1, 6)], f"missed, in order: {got}")
            s.quiet(0.5)  # no duplicate, no resubscribe
            m = h.metrics(b)
            h.check(h.metric(m, "ringcast_broker_reconnects_total") >= 1, "the feed came back")
            # Fed from the stream, not the feed: it came back after the publishes.
            h.check(h.metric(m, "ringcast_broker_gap_publications_total") >= 1,
                    f"from the stream: {h.metric(m, 'ringcast_broker_gap_publications_total')}")
        finally:
            s.kill()


@test
def redis_restarted_empty_makes_subscribers_start_over():
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a:
        s = sdk(a)
        try:
            s.next("connected")
            epoch = subscribed(s, "feed:w")["position"]["epoch"]
            for k in range(2):
                publish(a, "feed:w", {"k": k})
            publications(s, "feed:w", 2)
            redis.stop()
            redis.start()  # no persistence: the stream and its epoch are gone
            ev = s.until("subscribed", channel="feed:w", timeout=20)  # after the 2500 unsubscribe
            h.check(ev["wasRecovering"] and not ev["recovered"] and ev["position"]["epoch"] != epoch,
                    f"told it could not recover: {ev}")
            h.wait_until(lambda: a.http_get("/healthz")[0] == 200, what="the node's links back")
            h.check(h.metric(h.metrics(a), "ringcast_broker_gaps_lost_total") == 1, "the loss counted")
            publish(a, "feed:w", {"k": "new"})
            h.check(publications(s, "feed:w", 1) == [(1, {"k": "new"})], "the new stream")
        finally:
            s.kill()


@test
def history_reads_redis_on_a_node_nobody_subscribes_on():
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        for k in range(3):
            publish(a, "feed:r", {"k": k})
        c = Raw(b)  # not subscribed: allow_history_for_client (and _anonymous)
        reply = c.call({"history": {"channel": "feed:r", "limit": -1}})
        h.check("history" in reply, f"history on b: {reply}")
        hist = reply["history"]
        h.check([p["data"] for p in hist["publications"]] == [{"k": 0}, {"k": 1}, {"k": 2}] and hist["offset"] == 3,
                f"Redis's stream, read on b: {hist}")
        since = c.call({"history": {"channel": "feed:r", "limit": 10, "since": {"offset": 1, "epoch": hist["epoch"]}}})
        h.check([p["offset"] for p in since["history"]["publications"]] == [2, 3], f"since: {since}")
        # Once answered, b lets the channel go: it follows only what its clients subscribe to.
        h.wait_until(lambda: redis.numsub("ringcast.p.feed:r") == 0, what="b's feed off the channel")
        empty = c.call({"history": {"channel": "feed:none", "limit": -1}})["history"]
        h.check(empty.get("publications", []) == [] and empty.get("offset", 0) == 0 and empty["epoch"],
                f"a channel never published to: {empty}")


@test
def the_apis_history_reads_redis_on_a_node_that_holds_no_copy():
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        offsets = [publish(a, "feed:api", {"k": k}) for k in range(4)]
        h.check(offsets == [1, 2, 3, 4], f"numbered by Redis: {offsets}")

        def history(srv, **params):
            status, answer = call(srv, "history", {"channel": "feed:api", **params})
            h.check(status == 200, f"history: {status} {answer}")
            return answer

        whole = history(b, limit=-1)["result"]
        h.check([(p["offset"], p["data"]) for p in whole["publications"]] == [(i + 1, {"k": i}) for i in range(4)] and
                whole["offset"] == 4, f"Redis's stream, read on b: {whole}")
        # The same answers as the node that follows it would give: since, reverse and limit.
        sub = Raw(a)
        sub.call({"subscribe": {"channel": "feed:api"}})
        for params in ({"limit": 2}, {"limit": 2, "reverse": True},
                       {"limit": 10, "since": {"offset": 2, "epoch": whole["epoch"]}},
                       {"limit": 10, "reverse": True, "since": {"offset": 3, "epoch": whole["epoch"]}}):
            h.check(history(b, **params) == history(a, **params), f"b as a for {params}: {history(b, **params)}")
        h.check(history(b, since={"offset": 1, "epoch": "other"})["error"]["code"] == 112, "another epoch: 112")
        h.check(redis.numsub("ringcast.p.feed:api") == 1, "b read it without following the channel")
        status, answer = call(b, "batch", {"commands": [{"history": {"channel": "feed:api"}}]})
        h.check(answer["replies"][0]["error"]["code"] == 108, f"in a batch: {answer}")
        empty = history(b, channel="feed:never", limit=-1)["result"]
        h.check(empty.get("publications", []) == [] and empty["epoch"], f"never published to: {empty}")
        # history_remove on b: Redis's stream goes, and a's copy with it; the position stays.
        status, answer = call(b, "history_remove", {"channel": "feed:api"})
        h.check(status == 200 and answer == {"result": {}}, f"history_remove: {answer}")
        for srv in (b, a):
            h.wait_until(lambda: history(srv, limit=-1)["result"].get("publications", []) == [], timeout=5,
                         what="the history gone")
            h.check(history(srv, limit=-1)["result"]["offset"] == 4, "the offset stays")
        h.check(publish(a, "feed:api", {"k": 4}) == 5, "numbering goes on")
        h.check(sub.push()["pub"]["offset"] == 5, "a's subscriber noticed nothing but the publication")
        h.check([p["offset"] for p in history(a, limit=-1)["result"]["publications"]] == [5], "a's copy goes on")


@test
def deltas_are_made_on_each_node_from_its_copy():
    # Publications on either node with "delta": every node makes the Fossil delta from its own
    # copy of the stream (the same records in the same order), so a delta subscriber on any
    # node decodes each one; one that asks for none goes whole and the chain goes on.
    require_node()
    require_redis()
    with Redis() as redis, node(redis) as a, node(redis) as b:
        real = sdk(b)  # the SDK decodes them itself
        try:
            real.next("connected")
            real.cmd(subscribe="book:x", delta="fossil")
            real.next("subscribed", channel="book:x")
            subs = {}
            for srv in (a, b):
                c = Raw(srv)
                reply = c.call({"subscribe": {"channel": "book:x", "delta": "fossil"}})
                h.check(reply.get("subscribe", {}).get("delta") is True, f"delta negotiated: {reply}")
                subs[srv] = c
            plain = Raw(b)
            plain.call({"subscribe": {"channel": "book:x"}})
            h.wait_until(lambda: redis.numsub("ringcast.p.book:x") == 2, what="both feeds on the channel")
            asks = [True, True, True, False, True, True]
            for i, delta in enumerate(asks):
                status, answer = call((a, b)[i % 2], "publish", {"channel": "book:x", "data": book(i), "delta": delta})
                h.check(status == 200 and answer["result"]["offset"] == i + 1, f"publish {i}: {answer}")
            for srv, c in subs.items():
                got = [line["push"]["pub"] for line in frames_of(c, len(asks))]
                h.check([p.get("delta", False) for p in got] == [False, True, True, False, True, True], f"forms {got}")
                prev = b""
                for i, p in enumerate(got):
                    prev = fossil_apply(prev, p["data"].encode()) if p.get("delta") else p["data"].encode()
                    h.check(json.loads(prev) == book(i), f"publication {i} on {srv.port}")
            h.check([line["push"]["pub"]["data"] for line in frames_of(plain, len(asks))] == [book(i) for i in
                                                                                             range(len(asks))],
                    "a subscriber without deltas gets the data itself")
            got = [real.next("publication", channel="book:x")["data"] for _ in asks]
            h.check(got == [book(i) for i in range(len(asks))], f"the SDK decoded each: {got}")
        finally:
            real.kill()
        h.check(h.metric(h.metrics(b), "ringcast_deltas_sent_total") == 8, "deltas counted where sent")


@test
def a_node_cut_off_past_what_redis_keeps_makes_subscribers_start_over():
    require_node()
    require_redis()
    with_tokens = dict(HIST, client=dict(HIST["client"], token={"hmac_secret_key": SECRET}))
    with Redis() as redis, Relay(redis.port) as relay, node(redis) as a, \
            server(with_tokens, "--broker", relay.url, "--threads", "2") as b:
        s, late = sdk(b), sdk(b)
        try:
            s.next("connected")
            epoch = subscribed(s, "short:x")["position"]["epoch"]
            side = Raw(b, token=token(channels=["short:x"]))  # subscribed by its connect token
            h.check("short:x" in side.connected.get("subs", {}), f"server-side: {side.connected}")
            publish(a, "short:x", {"k": 1})
            h.check(publications(s, "short:x", 1) == [(1, {"k": 1})], "live")
            relay.cut()  # b's links to Redis drop, and cannot come back yet
            h.wait_until(lambda: b.http_get("/healthz")[0] == 503, what="b's links down")
            for k in range(2, 8):  # Redis keeps only 5..7: b's subscriber misses 2..4 for good
                publish(a, "short:x", {"k": k})
            relay.mend()
            late.next("connected")
            late.cmd(subscribe="short:x")  # while b reloads: held, then joined to the new state
            # Nothing past the gap reaches it before it is told: the 2500, and its
            # resubscribe cannot recover (an SDK taking 5..7 first would "recover" from 7).
            seen = before(s, "subscribed", channel="short:x")
            ev = seen.pop()
            h.check(not [e for e in seen if e["event"] == "publication"], f"nothing before it is told: {seen}")
            h.check(ev["wasRecovering"] and not ev["recovered"] and ev["position"] == {"offset": 7, "epoch": epoch},
                    f"told it could not recover: {ev}")
            h.check(late.until("subscribed", channel="short:x", timeout=20)["position"]["offset"] == 7,
                    "the late subscriber joined the new state")
            # A server-side subscription cannot subscribe again by itself: its connection
            # starts over (3010), and the SDK reconnects with its position.
            h.check(side.close_code(timeout=20, skip_pushes=True) == 3010, "the server-side subscriber: 3010")
            h.check(h.metric(h.metrics(b), "ringcast_broker_gaps_lost_total") == 1, "the loss counted")
            publish(a, "short:x", {"k": 8})
            h.check(publications(s, "short:x", 1) == [(8, {"k": 8})], "live again")
            h.check(publications(late, "short:x", 1) == [(8, {"k": 8})], "the late one too")
            s.quiet(0.3)
        finally:
            s.kill()
            late.kill()


@test
def a_publication_racing_the_first_load_reaches_its_subscribers():
    require_redis()
    with Redis() as redis, Relay(redis.port) as relay, node(redis) as a, server(HIST, "--broker", relay.url) as b:
        links_up(b)
        first, c = Raw(b), Raw(b)
        relay.stall("commands")  # b's load of the channel waits on its way to Redis
        (sub,) = first.send({"subscribe": {"channel": "plain:x"}})  # waits for the load
        h.wait_until(lambda: redis.numsub("ringcast.p.plain:x") == 1, what="b's feed on the channel")
        # No position: answered as soon as Redis confirmed b's SUBSCRIBE, while the load waits.
        reply = c.call({"subscribe": {"channel": "plain:x"}})
        h.check("subscribe" in reply, f"subscribed: {reply}")
        relay.stall("feed")
        publish(a, "plain:x", {"k": 1})  # after the subscribe's answer, before the load runs
        relay.flow("commands")  # the load's snapshot holds it; its reply may come first
        time.sleep(0.3)
        relay.flow("feed")
        h.check(c.push()["pub"]["data"] == {"k": 1}, "what was published after the answer")
        h.check([r.get("id") for r in first.frames()] == [sub], "the first subscribe answered once loaded")
        publish(a, "plain:x", {"k": 2})
        h.check(c.push()["pub"]["data"] == {"k": 2}, "and after")
        got = [first.push()["pub"]["data"]]  # k1 too, maybe: in the same turn as its answer
        if got == [{"k": 1}]:
            got.append(first.push()["pub"]["data"])
        h.check(got[-1] == {"k": 2}, f"the first subscriber too: {got}")
        c.silent(0.3)


@test
def a_publication_that_crossed_the_feeds_unsubscribe_is_dropped():
    # Redis sent it before it took the UNSUBSCRIBE that the last subscriber's leaving sent:
    # it must not start a load (its marker would never come) that wedges the channel.
    require_redis()
    with Redis() as redis, Relay(redis.port) as relay, node(redis) as a, server(HIST, "--broker", relay.url) as b:
        links_up(b)
        c = Raw(b)
        h.check("subscribe" in c.call({"subscribe": {"channel": "plain:u"}}), "subscribed")
        publish(a, "plain:u", {"k": 1})
        h.check(c.push()["pub"]["data"] == {"k": 1}, "live")
        relay.stall("feed")
        publish(a, "plain:u", {"k": 2})  # on its way to b's feed
        h.check(c.call({"unsubscribe": {"channel": "plain:u"}}).get("unsubscribe") == {}, "unsubscribed")
        time.sleep(0.2)  # b queues its UNSUBSCRIBE behind the stalled feed
        relay.flow("feed")
        h.wait_until(lambda: redis.numsub("ringcast.p.plain:u") == 0, what="b's feed off the channel")
        h.check("subscribe" in c.call({"subscribe": {"channel": "plain:u"}}), "subscribed again")
        publish(a, "plain:u", {"k": 3})
        h.check(c.push()["pub"]["data"] == {"k": 3}, "the channel works again")
        c.silent(0.3)


@test
def an_unsubscribe_drops_the_subscribe_it_overtook():
    require_redis()
    with Redis() as redis, Relay(redis.port) as relay, server(HIST, "--broker", relay.url) as b:
        links_up(b)
        c = Raw(b)
        relay.stall()  # Redis's confirmation of b's SUBSCRIBE waits
        try:
            first, read, _, again = c.send({"subscribe": {"channel": "feed:h"}},
                                           {"history": {"channel": "feed:h", "limit": -1}},
                                           {"unsubscribe": {"channel": "feed:h"}}, {"subscribe": {"channel": "feed:h"}})
            replies = c.frames()
            h.check(replies == [{"id": first, "error": {"code": 100, "message": "internal server error",
                                                         "temporary": True}}, {"id": read + 1, "unsubscribe": {}}],
                    f"the overtaken subscribe is answered, then the unsubscribe: {replies}")
        finally:
            relay.flow()
        replies = frames_of(c, 2)
        h.check([r.get("id") for r in replies] == [read, again] and "history" in replies[0] and
                "subscribe" in replies[1], f"the history read is kept, the second subscribe runs: {replies}")
        publish(b, "feed:h", {"k": 1})
        h.check(c.push()["pub"]["data"] == {"k": 1}, "subscribed once")
        c.silent(0.3)


@test
def held_subscribes_count_against_the_channel_limit():
    require_redis()
    limited = dict(HIST, client=dict(HIST["client"], channel_limit=2))
    with Redis() as redis, Relay(redis.port) as relay, server(limited, "--broker", relay.url) as b:
        links_up(b)
        c = Raw(b)
        relay.stall()
        try:
            # Waiting history reads are no subscriptions; a third subscribe while two wait is.
            c.send({"history": {"channel": "feed:l0"}}, {"history": {"channel": "feed:l1"}},
                   {"subscribe": {"channel": "feed:l1"}}, {"subscribe": {"channel": "feed:l2"}})
            h.check(c.error({"subscribe": {"channel": "feed:l3"}}) == 106, "a third while two wait: 106")
            reads = c.send(*[{"history": {"channel": f"feed:r{k}"}} for k in range(20)])
            replies = c.frames()
            h.check([r["id"] for r in replies] == reads[14:] and all(r["error"]["code"] == 106 for r in replies),
                    f"at most 16 reads wait per connection: {replies}")
        finally:
            relay.flow()
        replies = frames_of(c, 18)
        h.check(sum("subscribe" in r for r in replies) == 2 and sum("history" in r for r in replies) == 16,
                f"the held ones answered: {replies}")


@test
def scripts_redis_forgot_are_loaded_again():
    require_redis()
    # One shard: each shard's command link learns of the flush with its own next publish.
    with Redis() as redis, server(HIST, "--broker", redis.url, "--threads", "1") as a:
        c = Raw(a)
        h.check("subscribe" in c.call({"subscribe": {"channel": "feed:f"}}), "subscribed")
        publish(a, "feed:f", {"k": 1})
        h.check(c.push()["pub"]["data"] == {"k": 1}, "live")
        redis.command("SCRIPT", "FLUSH")
        status, answer = call(a, "publish", {"channel": "feed:f", "data": {"k": 2}})
        h.check(answer.get("error", {}).get("code") == 100, f"NOSCRIPT: refused, the link starts over: {answer}")
        h.wait_until(lambda: "NOSCRIPT" in a.log() and a.http_get("/healthz")[0] == 200, what="the link back")
        h.check(h.metric(h.metrics(a), "ringcast_broker_publish_failures_total") == 1, "the lost one counted")
        publish(a, "feed:f", {"k": 3})
        got = c.push()["pub"]
        h.check(got["data"] == {"k": 3}, f"published again once the scripts are back: {got}")


@test
def a_subscribe_that_needs_redis_fails_fast_while_it_is_gone():
    require_redis()
    with Redis() as redis, node(redis) as a:
        redis.stop()
        h.wait_until(lambda: a.http_get("/healthz")[0] == 503, what="the broker down")
        c = Raw(a)
        reply = c.call({"subscribe": {"channel": "feed:q", "recover": True}})
        h.check(reply.get("error") == {"code": 100, "message": "internal server error", "temporary": True},
                f"subscribe while Redis is gone: {reply}")
        h.check(c.error({"publish": {"channel": "feed:q", "data": 1}}) == 100, "publish too")


if __name__ == "__main__":
    h.main()
