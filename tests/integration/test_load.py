#!/usr/bin/python3
"""ringcast-load against a real ringcast: a short fan-out and a connect burst must report
every message delivered in order (0 lost, 0 out of order), and bad command lines exit 2.
Needs <build-dir>/bench/load/ringcast-load (skips when it was not built)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, SkipTest, test  # noqa: E402


def load_binary():
    build = harness.ARGS.build_dir or os.path.join(os.path.dirname(harness.ARGS.ringcast), "..")
    path = os.path.join(build, "bench", "load", "ringcast-load")
    if not os.access(path, os.X_OK):
        raise SkipTest(f"{path} not built")
    return path


def run_load(*args, timeout=60):
    """Runs ringcast-load with --json; returns the parsed report."""
    cmd = [load_binary(), *args, "--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


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
def connect_burst_reaches_everyone():
    with Server() as srv:
        r = run_load("connect", "-c", "300", "-d", "0.5", "--burst", "3", "--server-pid", str(srv.proc.pid),
                     srv.url("/room"))
    check_clean(r)
    assert r["messages_sent"] == 3 and r["deliveries"] == 900, f"{r['deliveries']} deliveries"
    assert r["connections"]["per_s"] > 0 and r["server"]["rss_per_connection"] > 0


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
                 ["fanout", "ws://192.0.2.1:9/"], ["fanout", "http://127.0.0.1:9/"], ["fanout"]):
        p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, f"{args}: exit {p.returncode}"
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ringcast-load: "), f"{args}: {p.stderr!r}"


if __name__ == "__main__":
    harness.main()
