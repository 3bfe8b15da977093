#!/usr/bin/python3
"""The demo pages ringcast serves (GET /demo/ticker, /demo/danmaku, on the centrifuge SDK's
browser build from --demo-sdk), with scripts/config/demo.json, in headless Chromium: the
ticker board renders ringcast-feed's prices and its order book arrives as Fossil deltas;
the danmaku page flies the comments a real SDK client sends, sends its own from the box,
and shows the room's online count. Each test keeps a screenshot in <build>/screenshots/
(the README's come from there). Without --demo-sdk the SDK is 404 and the page says why;
an unreadable --demo-sdk is one line and exit 2."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from chromium import Browser, require_chromium  # noqa: E402
from protocol_clients import DEMO, require_node, sdk, server  # noqa: E402

SDK_JS = os.path.join(h.NODE_DIR, "node_modules", "centrifuge", "dist", "centrifuge.js")


def screenshot(b, session, name):
    directory = os.path.join(h.build_dir(), "screenshots")
    os.makedirs(directory, exist_ok=True)
    png = b.screenshot(session, os.path.join(directory, name))
    h.check(png.startswith(b"\x89PNG") and len(png) > 10_000, f"{name}: {len(png)} bytes")


def page_url(srv, page):
    return f"{'https' if h.TLS else 'http'}://127.0.0.1:{srv.port}/demo/{page}"


def demo(b, s):
    return b.eval(s, "JSON.stringify(window.demo)")


@test
def ticker_board_renders_the_feed_and_its_order_book_deltas():
    require_chromium()
    require_node()
    feed = h.built("bench", "feed", "ringcast-feed")
    b = Browser()
    try:
        with server(DEMO, "--demo-sdk", SDK_JS) as srv:
            s = b.open_page(page_url(srv, "ticker"))
            b.wait_eval(s, "window.demo && window.demo.state", lambda v: v == "connected", what="the page connected")
            if h.TLS:  # the feed speaks plain HTTP: it has no port here
                return
            # A second browser tab asks for its tickers at most once a second.
            slow = b.open_page(page_url(srv, "ticker") + "?max_frequency=1s")
            b.wait_eval(slow, "window.demo && window.demo.state", lambda v: v == "connected", what="the 1 s page connected")
            p = subprocess.Popen([feed, "--api", f"http://127.0.0.1:{srv.port}", "--rate", "160", "--duration", "4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            b.wait_eval(s, "window.demo.updates > 40 && window.demo.books > 10 && window.demo.delta &&"
                           " window.demo.delta.numDeltaPayloads > 5", lambda v: v, timeout=20,
                        what="tickers, books and deltas rendered")
            rows = b.eval(s, "Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.cells[1].textContent)")
            h.check(len(rows) == 16 and all(r.replace(".", "").isdigit() for r in rows), f"every price shown: {rows}")
            book = b.eval(s, "document.querySelectorAll('#book tbody tr').length")
            h.check(book == 10, f"ten levels of the book: {book}")
            time.sleep(0.5)  # a frame with rows flashing
            screenshot(b, s, "ticker.png")
            out, err = p.communicate(timeout=20)
            h.check(p.returncode == 0 and json.loads(out)["errors"] == 0, f"feed: {p.returncode} {err}")
            st = json.loads(demo(b, s))["delta"]
            h.check(st["bytesReceived"] * 4 < st["bytesDecoded"], f"deltas saved bytes in the browser: {st}")
            # 4 s of 10 updates a second per symbol: ~40 each at 100 ms, at most ~5 at 1 s.
            counts = "Array.from(document.querySelectorAll('#board tbody tr')).map(r => +r.cells[4].textContent)"
            fast, paced = b.eval(s, counts), b.eval(slow, counts)
            h.check(min(fast) >= 15, f"100 ms page: {fast}")
            h.check(max(paced) <= 6 and min(paced) >= 2, f"1 s page: {paced}")
            print(f"  updates per symbol: 100 ms {min(fast)}-{max(fast)}, 1 s {min(paced)}-{max(paced)}")
            # Chromium offers permessage-deflate: both tabs took it, and what they rendered
            # came (where it pays: the books' full forms) compressed and was inflated there.
            m = h.metrics(srv)
            h.check(h.metric(m, "ringcast_deflate_connections_total") >= 2, "both tabs negotiated deflate")
            h.check(h.metric(m, "ringcast_messages_deflated_total") > 0, "compressed publications reached Chromium")
    finally:
        b.close()


@test
def danmaku_page_flies_comments_sends_its_own_and_counts_who_watches():
    require_chromium()
    require_node()
    b = Browser()
    try:
        with server(DEMO, "--demo-sdk", SDK_JS) as srv:
            s = b.open_page(page_url(srv, "danmaku") + "?room=test")
            b.wait_eval(s, "window.demo && window.demo.state", lambda v: v == "subscribed", what="the page subscribed")
            viewer = sdk(srv)
            try:
                viewer.next("connected")
                viewer.cmd(subscribe="danmaku:test")
                viewer.next("subscribed", channel="danmaku:test")
                comments = ["主播好厉害!", "first", "666666", "GG wp", "这波操作可以", "hello from ringcast",
                            "弹幕护体", "lol", "nice play", "前方高能"]
                for i, text in enumerate(comments):
                    viewer.cmd(publish="danmaku:test", data={"text": text})
                    viewer.until("published", channel="danmaku:test")
                    if i % 4 == 3:
                        time.sleep(1.1)  # under demo.json's 5 publishes a second
                b.wait_eval(s, "window.demo.comments", lambda v: v >= len(comments), what="every comment flew")
                b.wait_eval(s, "window.demo.online", lambda v: v == 2, timeout=10, what="the online count")
                b.eval(s, "document.getElementById('msg').value = 'from the page'; document.getElementById('send').click(); 1")
                ev = viewer.until("publication", channel="danmaku:test", data={"text": "from the page"})
                h.check(ev["info"] is not None, f"a client's publication: {ev}")
                h.check("2 watching" in b.eval(s, "document.getElementById('online').textContent"), "shown")
                screenshot(b, s, "danmaku.png")
            finally:
                viewer.kill()
    finally:
        b.close()


@test
def without_demo_sdk_the_page_says_how_to_serve_it():
    require_chromium()
    b = Browser()
    try:
        with server(DEMO) as srv:
            status, _, _ = srv.http_get("/demo/centrifuge.js")
            h.check(status == 404, f"no SDK: {status}")
            s = b.open_page(page_url(srv, "ticker"))
            b.wait_eval(s, "window.demo && window.demo.state", lambda v: v == "no sdk", what="the page's notice")
            h.check("--demo-sdk" in b.eval(s, "document.getElementById('status').textContent"), "names the flag")
    finally:
        b.close()
    p = subprocess.run([h.ARGS.ringcast, "--port", "0", "--demo-sdk", "/nonexistent/centrifuge.js"],
                       capture_output=True, timeout=10)
    err = p.stderr.decode()
    h.check(p.returncode == 2 and len(err.splitlines()) == 1 and "--demo-sdk" in err, f"{p.returncode} {err}")


if __name__ == "__main__":
    h.main()
