#!/usr/bin/python3
"""Conflating channels (namespace `conflate`, issue 13): a subscriber that stops reading
keeps at most one unsent publication per channel, replaced by each newer one, and ends on
the latest value of every channel when it reads again, never closed for its backlog; a
subscriber that keeps up gets every publication, in order; the replaced ones are counted in
ringcast_conflated_total. Max frequency (namespace `max_frequency`): a channel published
at 1,000/s reaches a 100 ms namespace's subscribers about 10 times a second, each time its
latest publication, the last one included; a subscription that asks for a slower rate in
its data ({"max_frequency": "500ms"}, the real SDK's `data` option) gets that rate, one
asking for a faster one the namespace's."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import OPEN, Raw, require_node, sdk, server  # noqa: E402

ANYONE = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
          "allow_publish_for_client": True, "allow_publish_for_anonymous": True}
CFG = dict(OPEN, client=dict(OPEN["client"], ping_interval="60s"),  # no 3012 while one does not read
           channel=dict(OPEN["channel"], namespaces=OPEN["channel"]["namespaces"] + [
               {"name": "px", **ANYONE, "conflate": True},
               {"name": "tick", **ANYONE, "max_frequency": "100ms"},
               # a ticker board: the price at once on subscribe, then conflated
               {"name": "board", **ANYONE, "conflate": True, "history_size": 1, "history_ttl": "300s",
                "force_recovery": True, "force_recovery_mode": "cache"}]))
CHANNELS = [f"px:s{k}" for k in range(10)]


def pubs_of(lines):
    return [(line["push"]["channel"], line["push"]["pub"]["data"]["i"]) for line in lines if "push" in line]


@test
def a_slow_subscriber_ends_on_the_latest_of_every_channel_and_a_fast_one_misses_nothing():
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])
    per_channel = (wmem_max + (4 << 20)) // 4000 // len(CHANNELS)  # past the kernel's buffers on both ends
    with server(CFG, "--threads", "2") as srv:
        slow, fast, publisher = Raw(srv, rcvbuf=4096), Raw(srv), Raw(srv)
        for c in (slow, fast):
            c.send(*({"subscribe": {"channel": ch}} for ch in CHANNELS))
            replies = []
            while len(replies) < len(CHANNELS):
                replies += c.frames()
            h.check(all("subscribe" in r for r in replies), f"subscribed {replies}")
        seen = {ch: [] for ch in CHANNELS}

        def read_fast():
            left = per_channel * len(CHANNELS)
            while left > 0:
                for ch, i in pubs_of(fast.frames(timeout=20)):
                    seen[ch].append(i)
                    left -= 1

        reader = threading.Thread(target=read_fast)
        reader.start()
        blob = "x" * 4000
        for i in range(per_channel):
            publisher.send(*({"publish": {"channel": ch, "data": {"i": i, "blob": blob}}} for ch in CHANNELS))
            publisher.frames()  # the replies: the publisher keeps up too
        reader.join(timeout=60)
        h.check(not reader.is_alive(), "the fast reader did not get everything")
        for ch in CHANNELS:
            h.check(seen[ch] == list(range(per_channel)), f"{ch}: the fast one got {len(seen[ch])} of {per_channel}")
        last, got = {}, 0
        try:
            while True:
                for ch, i in pubs_of(slow.frames(timeout=2)):
                    h.check(i > last.get(ch, -1), f"{ch}: {i} after {last.get(ch)}")
                    last[ch] = i
                    got += 1
        except TimeoutError:
            pass
        h.check(last == {ch: per_channel - 1 for ch in CHANNELS}, f"the slow one ends on {last}")
        total = per_channel * len(CHANNELS)
        h.check(got < total, f"the slow one got all {got} of {total}: nothing was conflated")
        m = h.metrics(srv)
        h.check(h.metric(m, "ringcast_conflated_total") >= total - got - len(CHANNELS), "counted")
        h.check(h.metric(m, "ringcast_slow_clients_closed_total") == 0, "nobody closed for a backlog")


@test
def a_conflated_ticker_gives_the_price_at_once_on_subscribe():
    with server(CFG, "--threads", "2") as srv:
        publisher = Raw(srv)
        for price in (100, 101, 102):
            publisher.call({"publish": {"channel": "board:btc", "data": {"i": price}}})
        sub = Raw(srv)
        r = sub.call({"subscribe": {"channel": "board:btc", "recover": True}})["subscribe"]
        got = [(p["offset"], p["data"]["i"]) for p in r.get("publications", [])]
        h.check(r.get("recovered") is True and got == [(3, 102)], f"the price at once {r}")
        publisher.call({"publish": {"channel": "board:btc", "data": {"i": 103}}})
        h.check(sub.push()["pub"]["data"]["i"] == 103, "then live")


@test
def a_max_frequency_channel_goes_out_ten_times_a_second_with_its_latest():
    with server(CFG, "--threads", "2") as srv:
        sub, publisher = Raw(srv), Raw(srv)
        sub.call({"subscribe": {"channel": "tick:btc"}})
        arrivals = []

        def read():
            try:
                while True:
                    for line in sub.frames(timeout=1.5):
                        if "push" in line:
                            arrivals.append((time.monotonic(), line["push"]["pub"]["data"]["i"]))
            except TimeoutError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        start, sent = time.monotonic(), 0
        while time.monotonic() - start < 2.0:  # 1,000 a second, 10 every 10 ms
            publisher.send(*({"publish": {"channel": "tick:btc", "data": {"i": sent + j}}} for j in range(10)))
            sent += 10
            publisher.frames()
            time.sleep(0.01)
        reader.join(timeout=10)
        values = [i for _, i in arrivals]
        h.check(values == sorted(values) and len(set(values)) == len(values), f"not the latest each time: {values}")
        h.check(values and values[-1] == sent - 1, f"the last publication {sent - 1} never came: {values[-3:]}")
        h.check(15 <= len(values) <= 26, f"{len(values)} updates in 2 s at 100 ms ({sent} published)")
        print(f"  {len(values)} updates in 2 s of {sent} publications")
        m = h.metrics(srv)
        h.check(h.metric(m, "ringcast_throttled_total") == sent - len(values), "the others are counted")


def collect(sub, arrivals):
    """Reads a Raw subscriber's pushes into `arrivals` (their data's "i") until 1.5 s of silence."""
    try:
        while True:
            for line in sub.frames(timeout=1.5):
                if "push" in line:
                    arrivals.append(line["push"]["pub"]["data"]["i"])
    except TimeoutError:
        pass


def publish_for(publisher, channel, seconds):
    """1,000 publications a second (10 every 10 ms) for `seconds`; returns how many."""
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        publisher.send(*({"publish": {"channel": channel, "data": {"i": sent + j}}} for j in range(10)))
        sent += 10
        publisher.frames()
        time.sleep(0.01)
    return sent


@test
def a_subscription_asks_for_a_slower_rate_and_gets_it():
    require_node()
    with server(CFG, "--threads", "2") as srv:
        plain, eager, publisher = Raw(srv), Raw(srv), Raw(srv)
        plain.call({"subscribe": {"channel": "tick:eth"}})
        eager.call({"subscribe": {"channel": "tick:eth", "data": {"max_frequency": "10ms"}}})  # faster: not allowed
        bad = Raw(srv)
        h.check(bad.error({"subscribe": {"channel": "tick:eth", "data": {"max_frequency": 500}}}) == 107,
                "a max_frequency that is not a duration: bad request")
        h.check(bad.error({"subscribe": {"channel": "tick:eth", "data": {"max_frequency": "soon"}}}) == 107,
                "nor is that")
        h.check(bad.error({"subscribe": {"channel": "tick:eth", "data": {"max_frequency": "500"}}}) == 107,
                "a duration needs its unit")
        s = sdk(srv)
        try:
            s.next("connected")
            s.cmd(subscribe="tick:eth", data={"max_frequency": "500ms"})
            s.next("subscribed", channel="tick:eth")
            got = {"plain": [], "eager": []}
            readers = [threading.Thread(target=collect, args=(c, got[k])) for k, c in (("plain", plain), ("eager", eager))]
            for r in readers:
                r.start()
            sent = publish_for(publisher, "tick:eth", 2.0)
            for r in readers:
                r.join(timeout=10)
            slow = []
            while not slow or slow[-1] != sent - 1:
                slow.append(s.next("publication", channel="tick:eth", timeout=3)["data"]["i"])
            s.quiet(0.7)  # nothing after the latest
        finally:
            s.kill()
        for name, values in (("plain", got["plain"]), ("eager", got["eager"]), ("500ms", slow)):
            h.check(values == sorted(set(values)), f"{name}: not the latest each time: {values}")
            h.check(values and values[-1] == sent - 1, f"{name}: the last publication {sent - 1} never came")
        for name in ("plain", "eager"):
            h.check(15 <= len(got[name]) <= 26, f"{name}: {len(got[name])} updates in 2 s at 100 ms")
        h.check(3 <= len(slow) <= 6, f"500ms: {len(slow)} updates in 2 s ({slow})")
        print(f"  100 ms: {len(got['plain'])} and {len(got['eager'])} updates, 500 ms: {len(slow)}, of {sent}")


if __name__ == "__main__":
    h.main()
