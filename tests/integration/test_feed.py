#!/usr/bin/python3
"""ringcast-feed against a real ringcast run with scripts/config/demo.json (the config
scripts/run.sh starts): every publication of its synthetic market is taken, the real SDK
reads ticker lines (conflated, at most 10 a second a channel) and order books as Fossil
deltas that decode to whole, ordered books; a bad flag is one line and exit 2, a server
without the namespaces makes it say what was refused and exit 1."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import DEMO, OPEN, require_node, sdk, server  # noqa: E402



def feed_binary():
    return h.built("bench", "feed", "ringcast-feed")


def feed(srv, *args, timeout=30):
    p = subprocess.run([feed_binary(), "--api", f"http://127.0.0.1:{srv.port}", *args], capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@test
def the_sdk_reads_tickers_and_order_book_deltas_from_the_feed():
    require_node()
    with server(DEMO) as srv:
        s = sdk(srv)
        try:
            s.next("connected")
            s.cmd(subscribe="book:BTC-USD", delta="fossil")
            s.cmd(subscribe="ticker:ETH-USD")
            subscribed = {s.next("subscribed")["channel"] for _ in range(2)}  # in either order
            h.check(subscribed == {"book:BTC-USD", "ticker:ETH-USD"}, f"subscribed {subscribed}")
            rc, out, err = feed(srv, "--instruments", "4", "--rate", "200", "--duration", "2")
            h.check(rc == 0, f"feed exit {rc}: {err}")
            report = json.loads(out)
            h.check(report["errors"] == 0 and report["publications"] == 2 * report["updates"] >= 600, f"{report}")
            books, tickers = [], []
            while len(books) < report["updates"] // 4:
                ev = s.next("publication")
                (books if ev["channel"] == "book:BTC-USD" else tickers).append(ev["data"])
            seqs = [b["n"] for b in books]
            h.check(seqs == list(range(1, len(seqs) + 1)), f"every book, in order: {seqs[:10]}...")
            h.check(all(len(b["b"]) == 20 and len(b["a"]) == 20 and float(b["b"][0][0]) < float(b["a"][0][0])
                        for b in books), "whole books")
            s.cmd(delta_stats="book:BTC-USD")
            st = s.next("delta_stats", channel="book:BTC-USD")
            # The SDK may hold books the loop above did not wait for (instruments update at random).
            h.check(st["numFullPayloads"] == 1 and st["numPublications"] >= len(books) and
                    st["numDeltaPayloads"] == st["numPublications"] - 1, f"deltas {st} for {len(books)} books read")
            h.check(st["bytesReceived"] * 4 < st["bytesDecoded"], f"under a quarter of the bytes: {st}")
            # 2 s of tickers at most 10 a second (max_frequency 100ms), and at least a few.
            h.check(3 <= len(tickers) <= 25 and all(t["s"] == "ETH-USD" for t in tickers), f"tickers {len(tickers)}")
        finally:
            s.kill()


@test
def bad_flags_are_one_line_and_exit_2():
    binary = feed_binary()
    for args, why in [(["--rate", "0"], "--rate"), (["--api", "127.0.0.1:9000"], "--api"),
                      (["--ticker", "", "--book", ""], "nothing to publish"), (["--bogus", "1"], "unknown flag")]:
        p = subprocess.run([binary, *args], capture_output=True, timeout=10)
        err = p.stderr.decode()
        h.check(p.returncode == 2 and why in err and len(err.strip().splitlines()) == 1, f"{args}: {p.returncode} {err}")
    p = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    h.check(p.returncode == 0 and b"--instruments" in p.stdout, "--help")


@test
def refused_publications_are_named_and_exit_1():
    with server(dict(OPEN, http_api={"key": "demo-api-key"})) as srv:  # no ticker or book namespace
        rc, out, err = feed(srv, "--duration", "0.5", "--ticker", "", "--book", "nowhere")
        h.check(rc == 1 and json.loads(out)["errors"] > 0 and '"error"' in err, f"{rc} {out} {err}")
        rc, out, err = feed(srv, "--duration", "0.5", "--api-key", "wrong")
        h.check(rc == 1 and "401" in err, f"a wrong key: {rc} {err}")


if __name__ == "__main__":
    h.main()
