#!/usr/bin/python3
"""ringcast-load against a real ringcast: a short fan-out and a connect burst must report
every message delivered in order (0 lost, 0 out of order), a connect run split over several
generator processes (--processes) must merge into the same figures, the same fan-out over a
Centrifugo channel (--channel) must too, with publishers on the HTTP API (--api-key) as
well, two ringcast processes must share one port, and bad
command lines exit 2.
Needs <build-dir>/bench/load/ringcast-load (skips when it was not built)."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, test  # noqa: E402


def load_binary():
    return harness.built("bench", "load", "ringcast-load")


def run_load(*args, timeout=60):
    """Runs ringcast-load with --json; returns the parsed report."""
    cmd = [load_binary(), *args, "--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


# Who may do what in the channel tests' namespaces: subscribe only, or publish as well.
SUBSCRIBE = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True}
ANYONE = dict(SUBSCRIBE, allow_publish_for_client=True, allow_publish_for_anonymous=True)


def config(name, cfg):
    """A --config file holding `cfg` (anonymous connects allowed); its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="ringcast-load-"), name)
    client = dict({"allow_anonymous_connect_without_token": True}, **cfg.pop("client", {}))
    with open(path, "w") as f:
        json.dump({"client": client, **cfg}, f)
    return path


def check_clean(r):
    c = r["connections"]
    assert c["opened"] == c["requested"], f"opened {c['opened']} of {c['requested']}: {r['first_error']}"
    assert c["failed"] == 0 and c["dropped"] == 0, r["first_error"]
    assert r["lost"] == 0, f"{r['lost']} lost"
    assert r["out_of_order"] == 0, f"{r['out_of_order']} out of order"
    assert r["protocol_errors"] == 0, r["first_error"]


@test
def fanout_two_seconds_nothing_lost():
    with Server("--threads", "2") as srv:
        r = run_load("fanout", "-c", "50", "-p", "2", "-d", "2", "--server-pid", str(srv.proc.pid), srv.url("/"))
    check_clean(r)
    assert r["messages_sent"] > 0 and r["deliveries"] == r["messages_sent"] * 50, \
        f"{r['deliveries']} deliveries for {r['messages_sent']} messages to 50 subscribers"
    assert r["latency_us"]["count"] == r["deliveries"]
    assert r["server"]["cpu_seconds"] >= 0 and r["server"]["rss_peak"] > 0


@test
def channel_fanout_two_seconds_nothing_lost():
    cfg = config("channel.json", {"client": {"ping_interval": "1s"}, "channel": {"without_namespace": ANYONE}})
    with Server("--threads", "2", "--config", cfg) as srv:  # pings every second: the generator pongs
        r = run_load("fanout", "-c", "50", "-p", "2", "-d", "2.5", "--channel", "bench", srv.url("/connection/websocket"))
    check_clean(r)
    assert r["messages_sent"] > 0 and r["deliveries"] == r["messages_sent"] * 50, \
        f"{r['deliveries']} deliveries for {r['messages_sent']} messages to 50 subscribers"


@test
def deflate_fanout_of_json_sends_under_half_the_bytes():
    # The same room and payload without and with permessage-deflate: every message arrives
    # compressed, nothing lost, and the wire carries well under half the bytes.
    with Server("--threads", "2") as srv:
        args = ["fanout", "-c", "50", "-p", "2", "-d", "1.5", "-s", "1024", "--payload", "json", srv.url("/")]
        plain, zipped = run_load(*args), run_load(*args, "--deflate")
    for r in (plain, zipped):
        check_clean(r)
        assert r["deliveries"] == r["messages_sent"] * 50, f"{r['deliveries']} for {r['messages_sent']} messages"
    assert plain["deflate"]["connections"] == 0 and plain["deflate"]["compressed_messages"] == 0
    assert zipped["deflate"]["connections"] == 50, zipped["deflate"]
    assert zipped["deflate"]["compressed_messages"] == zipped["deliveries"], zipped["deflate"]  # every one
    ratio = zipped["wire_bytes_per_delivery"] / plain["wire_bytes_per_delivery"]
    assert ratio < 0.5, f"deflate sent {ratio:.2f}x the plain bytes per delivery"
    assert zipped["delivered_bytes"] / zipped["deliveries"] == plain["delivered_bytes"] / plain["deliveries"], \
        "the same messages once inflated"


@test
def deflate_channel_pushes_are_read_inflated():
    cfg = config("deflate.json", {"client": {"ping_interval": "1s"}, "channel": {"namespaces": [
        {"name": "feed", **ANYONE, "history_size": 100, "history_ttl": "60s"}]}})
    with Server("--config", cfg) as srv:
        r = run_load("fanout", "-c", "20", "-d", "1.5", "-s", "512", "--payload", "json", "--deflate",
                     "--channel", "feed:z", srv.url("/connection/websocket"))
    check_clean(r)
    assert r["deliveries"] == r["messages_sent"] * 20 and r["offsets"] == r["deliveries"], \
        f"{r['deliveries']} deliveries, {r['offsets']} offsets, {r['messages_sent']} sent"
    assert r["deflate"]["connections"] == 20 and r["deflate"]["compressed_messages"] >= r["deliveries"], r["deflate"]


@test
def channel_fanout_with_history_counts_every_offset():
    cfg = config("history.json", {"client": {"ping_interval": "1s"}, "channel": {"namespaces": [
        {"name": "feed", **ANYONE, "history_size": 100, "history_ttl": "60s", "force_recovery": True}]}})
    with Server("--threads", "2", "--config", cfg) as srv:  # two publishers on two shards, one order
        r = run_load("fanout", "-c", "50", "-p", "2", "-d", "2.5", "--channel", "feed:bench",
                     srv.url("/connection/websocket"))
    check_clean(r)
    assert r["deliveries"] == r["messages_sent"] * 50 and r["offsets"] == r["deliveries"], \
        f"{r['deliveries']} deliveries, {r['offsets']} with an offset, for {r['messages_sent']} messages"
    assert r["offset_gaps"] == 0 and r["offset_repeats"] == 0, f"offsets: {r['offset_gaps']} skipped, " \
        f"{r['offset_repeats']} repeated"


@test
def reconnect_storm_recovers_everything():
    # 1,000 subscribers drop their connections at once mid-stream and come back with
    # recover: every one is told recovered, the replies carry what they missed, nothing is
    # lost or repeated. Where history is too short, the same storm is told it could not
    # recover, and the loss shows.
    cfg = config("storm.json", {"client": {"ping_interval": "5s"}, "channel": {"namespaces": [
        {"name": "feed", **ANYONE, "history_size": 1000, "history_ttl": "60s", "force_recovery": True},
        {"name": "short", **ANYONE, "history_size": 1, "history_ttl": "60s", "force_recovery": True}]}})
    # 4 s for the storm to settle inside the run: under ASan on a busy 2-core box it took 2.3.
    args = ["rate", "-c", "1000", "-p", "1", "-r", "200", "-d", "5", "--reconnect-at", "1"]
    with Server("--threads", "2", "--config", cfg) as srv:
        url = srv.url("/connection/websocket")
        r = run_load(*args, "--channel", "feed:storm", "--server-pid", str(srv.proc.pid), url)
        short = run_load(*args, "--channel", "short:storm", url)
    check_clean(r)
    st = r["storm"]
    assert st["dropped"] == 1000 and st["recovered"] == 1000 and st["all_settled"], st
    assert st["unrecovered"] == 0 and st["failed"] == 0, st
    assert st["recovered_publications"] > 0, "the drop missed nothing: the replies recovered no publication"
    assert r["deliveries"] == r["messages_sent"] * 1000, \
        f"{r['deliveries']} deliveries (recovered ones included) for {r['messages_sent']} messages to 1,000"
    assert r["offset_gaps"] == 0 and r["offset_repeats"] == 0, r
    # A figure, not a limit (a busy CI box is slower): bounded so that a stuck storm shows.
    assert r["recovery_us"]["count"] == 1000 and 0 < st["seconds"] < 10, (st, r["recovery_us"])
    assert st["server_cpu_seconds"] > 0, st
    s = short["storm"]
    assert s["dropped"] == 1000 and s["unrecovered"] > 0 and s["recovered"] + s["unrecovered"] == 1000, s
    assert short["lost"] > 0, "subscribers told they could not recover lost nothing"


@test
def api_publishers_fan_out_every_offset():
    # Publishers on the server HTTP API (keep-alive, pipelined): the closed loop and the open
    # one; every publication reaches every subscriber once, in offset order, and every
    # request is answered. A wrong key is counted and named, not taken for a slow server.
    cfg = config("api.json", {"http_api": {"key": "load-key"}, "channel": {"namespaces": [
        {"name": "feed", **SUBSCRIBE, "history_size": 100, "history_ttl": "60s", "force_recovery": True}]}})
    url = "/connection/websocket"
    with Server("--threads", "2", "--config", cfg) as srv:
        closed = run_load("fanout", "-c", "50", "-p", "2", "-d", "2", "--channel", "feed:api", "--api-key", "load-key",
                          "--server-pid", str(srv.proc.pid), srv.url(url))
        opened = run_load("rate", "-c", "20", "-p", "2", "-r", "400", "-d", "1", "--channel", "feed:rate",
                          "--api-key", "load-key", srv.url(url))
        wrong = run_load("fanout", "-c", "2", "-p", "1", "-d", "0.5", "--channel", "feed:x", "--api-key", "nope",
                         srv.url(url))
    for r, subs in ((closed, 50), (opened, 20)):
        check_clean(r)
        assert r["api"] and r["messages_sent"] > 0, r
        assert r["api_answers"] == r["messages_sent"] and r["api_errors"] == 0, \
            f"{r['api_answers']} answers ({r['api_errors']} errors) for {r['messages_sent']} requests"
        assert r["deliveries"] == r["messages_sent"] * subs and r["offsets"] == r["deliveries"], \
            f"{r['deliveries']} deliveries, {r['offsets']} with an offset, for {r['messages_sent']} messages"
        assert r["offset_gaps"] == 0 and r["offset_repeats"] == 0, r
    assert 300 <= opened["messages_sent"] <= 500, f"{opened['messages_sent']} messages at 400/s for 1 s"
    assert closed["server"]["cpu_ns_per_delivery"] > 0
    assert wrong["deliveries"] == 0 and wrong["api_errors"] == wrong["api_answers"] > 0, wrong
    assert wrong["first_error"].startswith("API publish failed: 401"), wrong["first_error"]


@test
def slow_readers_of_conflating_channels_end_on_the_latest_and_the_others_lose_nothing():
    # 5 of 50 subscribers read 2 KiB per 100 ms while one publisher cycles over 5 channels:
    # conflating, they are not closed and each ends on every channel's last message, while
    # the fast ones get everything in order; without conflation the same readers are closed.
    cfg = config("conflate.json", {"client": {"ping_interval": "60s"}, "channel": {"namespaces": [
        {"name": "px", **ANYONE, "conflate": True}, {"name": "plain", **ANYONE}]}})
    args = ["fanout", "-c", "50", "-p", "1", "-s", "512", "-d", "1.5", "--channels", "5", "--slow", "5"]
    with Server("--threads", "2", "--config", cfg) as srv:
        url = srv.url("/connection/websocket")
        r = run_load(*args, "--channel", "px:s", "--server-pid", str(srv.proc.pid), url)
        plain = run_load(*args, "--channel", "plain:s", url)
        conflated = harness.metric(harness.metrics(srv), "ringcast_conflated_total")
    check_clean(r)
    slow = r["slow"]
    assert r["channels"] == 5 and slow["subscribers"] == 5, r
    assert slow["skipped"] > 0 and slow["skipped"] == conflated, f"{slow} against {conflated} conflated"
    assert slow["missing_tail"] == 0, f"the slow ones did not end on the latest: {slow}"
    assert r["deliveries"] - slow["deliveries"] == r["messages_sent"] * 45, "the fast ones lost some"
    assert plain["connections"]["dropped"] == 5, f"without conflation: {plain['connections']}"


@test
def connect_burst_reaches_everyone():
    with Server() as srv:
        r = run_load("connect", "-c", "300", "-d", "0.5", "--burst", "3", "--server-pid", str(srv.proc.pid),
                     srv.url("/room"))
    check_clean(r)
    assert r["messages_sent"] == 3 and r["deliveries"] == 900, f"{r['deliveries']} deliveries"
    assert r["connections"]["per_s"] > 0 and r["server"]["rss_per_connection"] > 0


@test
def connect_split_over_processes_merges():
    # 3 generator processes, 300 subscribers and 2 publishers between them, from two local
    # addresses: every subscriber hears both publishers' bursts, whichever process it is in.
    with Server() as srv:
        r = run_load("connect", "-c", "300", "-p", "2", "-d", "0.3", "--burst", "2", "--processes", "3",
                     "--source", "127.0.0.1,127.0.0.2", "--server-pid", str(srv.proc.pid), srv.url("/room"))
    check_clean(r)
    assert r["config"]["processes"] == 3
    assert r["connections"]["requested"] == 302
    assert r["messages_sent"] == 4 and r["deliveries"] == 1200, f"{r['messages_sent']} sent, {r['deliveries']} deliveries"
    assert r["latency_us"]["count"] == 1200 and r["handshake_us"]["count"] == 302
    assert r["own_echoes"] == 4
    assert r["connections"]["per_s"] > 0 and r["server"]["rss_per_connection"] > 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@test
def two_servers_share_a_port():
    # SO_REUSEPORT: a second ringcast on the same port is accepted and the kernel spreads new
    # connections over both; --server-pid sums them. /echo: no room, so nothing to deliver.
    with Server("--threads", "1") as a, Server("--threads", "1", port=a.port) as b:
        base = {p: open_fds(p) for p in (a.proc.pid, b.proc.pid)}
        cmd = [load_binary(), "connect", "-c", "400", "-p", "0", "-d", "1.5", "--processes", "2", "--json", "--quiet",
               "--server-pid", f"{a.proc.pid},{b.proc.pid}", a.url("/echo")]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        held = dict.fromkeys(base, 0)  # the most each held at once (the last sample may come after the close)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            held = {pid: max(held[pid], open_fds(pid) - base[pid]) for pid in base}
            if sum(held.values()) >= 400:
                break
            time.sleep(0.05)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    r = json.loads(out)
    check_clean(r)
    assert r["connections"]["opened"] == 400
    assert r["server"]["pids"] == [a.proc.pid, b.proc.pid]
    assert all(n >= 50 for n in held.values()), f"connections per server process while held: {held}"


@test
def rate_open_loop_on_time():
    with Server() as srv:
        r = run_load("rate", "-c", "20", "-p", "2", "-r", "200", "-d", "1", srv.url("/"))
    check_clean(r)
    assert 150 <= r["messages_sent"] <= 250, f"{r['messages_sent']} messages at 200/s for 1 s"


@test
def bad_command_lines_exit_2():
    binary = load_binary()
    for args in (["fanout", "--rate", "abc", "ws://127.0.0.1:9/"], ["nosuch", "ws://127.0.0.1:9/"],
                 ["fanout", "ws://192.0.2.1:9/"], ["fanout", "http://127.0.0.1:9/"], ["fanout"],
                 ["fanout", "--processes", "2", "ws://127.0.0.1:9/"], ["connect", "-c", "2", "--processes", "3", "ws://127.0.0.1:9/"],
                 ["connect", "--source", "192.0.2.1", "ws://127.0.0.1:9/"], ["connect", "--server-pid", "1,x", "ws://127.0.0.1:9/"],
                 ["fanout", "--channel", "", "ws://127.0.0.1:9/"], ["fanout", "--channel", 'a"b', "ws://127.0.0.1:9/"],
                 ["fanout", "--api-key", "k", "ws://127.0.0.1:9/"], ["fanout", "--channels", "3", "ws://127.0.0.1:9/"],
                 ["fanout", "-c", "5", "--slow", "5", "ws://127.0.0.1:9/"], ["connect", "--slow", "1", "ws://127.0.0.1:9/"]):
        p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, f"{args}: exit {p.returncode}"
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ringcast-load: "), f"{args}: {p.stderr!r}"


if __name__ == "__main__":
    harness.main()
