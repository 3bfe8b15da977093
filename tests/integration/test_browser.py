"""A real browser: headless Chromium loads the chat page from GET /<room>, driven over the
DevTools protocol (--remote-debugging-pipe). A raw Python client and the page chat both
ways: typing + Enter, and clicking #send. A page of the test's own, on another origin,
runs the centrifuge SDK's browser build (npm `centrifuge`, dist/centrifuge.js): allowed by
client.allowed_origins it subscribes and receives what the server API publishes; without
the allowance its upgrade is refused 403. Under RINGCAST_TLS=1 the page comes over https and
its socket is wss: Chromium trusts the harness' certificate by its key
(--ignore-certificate-errors-spki-list), no other."""
import functools
import http.client
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from chromium import CHROMIUM, Browser  # noqa: E402


def log_items(b, session):
    return b.eval(session, "Array.from(document.querySelectorAll('#log li')).map(li => li.textContent)")


@test
def browser_chats_with_a_raw_client():
    with h.Server() as srv:
        py = h.RawClient(srv.port, "/browser")
        b = Browser()
        try:
            s = b.open_page(srv.http_url("/browser"))
            b.wait_eval(s, "document.querySelector('#status') && document.querySelector('#status').textContent",
                        lambda v: v == "connected", what="#status == connected")
            # The page's socket shows up in the room; its name is ID<its port>.
            joined = h.recv_texts_until(py, lambda t: h.is_notice(t) and t.endswith(" joined")
                                        and not t.startswith(py.name + " "), what="browser join")[-1]
            browser_name = joined.split(" ")[0]

            # Raw client -> page.
            py.send_text("hello browser ✓")
            h.check(h.recv_chat(py, 1) == [(py.name, "hello browser ✓")], "own message")
            b.wait_eval(s, "document.querySelector('#log').innerText",
                        lambda v: v and f"{py.name}: hello browser ✓" in v, what="message in #log")

            # Page -> raw client: type and press Enter (real input events).
            b.eval(s, "document.querySelector('#msg').focus()")
            b.call("Input.insertText", session=s, text="typed with enter")
            for kind in ("keyDown", "keyUp"):
                b.call("Input.dispatchKeyEvent", session=s, type=kind, key="Enter", code="Enter",
                       windowsVirtualKeyCode=13, nativeVirtualKeyCode=13)
            h.check(h.recv_chat(py, 1) == [(browser_name, "typed with enter")], "Enter-sent message")
            h.check(b.eval(s, "document.querySelector('#msg').value") == "", "#msg not cleared after Enter")

            # Page -> raw client: set the value and click #send.
            b.eval(s, "document.querySelector('#msg').value = 'clicked ünï'; "
                      "document.querySelector('#send').click(); true")
            h.check(h.recv_chat(py, 1) == [(browser_name, "clicked ünï")], "click-sent message")
            h.check(b.eval(s, "document.querySelector('#msg').value") == "", "#msg not cleared after click")

            # The page shows its own messages too, in order, after the raw client's.
            items = b.wait_eval(s, "Array.from(document.querySelectorAll('#log li')).map(li => li.textContent)",
                                lambda v: v and f"{browser_name}: clicked ünï" in v, what="own messages in #log")
            chat = [t for t in items if not h.is_notice(t)]
            h.check(chat == [f"{py.name}: hello browser ✓", f"{browser_name}: typed with enter",
                             f"{browser_name}: clicked ünï"], f"#log items {items!r}")

            # The raw client leaving is announced in the page.
            py.close()
            b.wait_eval(s, "document.querySelector('#log').innerText",
                        lambda v: v and f"{py.name} left" in v, what="leave notice in #log")
        finally:
            b.close()
            py.close()


@test
def browser_sees_the_close_on_shutdown():
    srv = h.Server()
    srv.start()
    b = Browser()
    try:
        s = b.open_page(srv.http_url("/"))
        b.wait_eval(s, "document.querySelector('#status') && document.querySelector('#status').textContent",
                    lambda v: v == "connected", what="#status == connected")
        srv.proc.terminate()
        b.wait_eval(s, "document.querySelector('#status').textContent", lambda v: v and "1001" in v,
                    what="#status shows close 1001")
        h.check(srv.proc.wait(10) == 0, "exit code")
    finally:
        b.close()
        srv.stop()


SDK_PAGE = """<!doctype html><meta charset="utf-8"><title>sdk</title>
<script src="centrifuge.js"></script>
<script>
window.got = []; window.state = "loading";
const c = new Centrifuge(%s);
c.on("connected", () => { window.state = "connected"; });
c.on("disconnected", (ctx) => { window.state = "disconnected " + ctx.code; });
const sub = c.newSubscription("news");
sub.on("subscribed", () => { window.state = "subscribed"; });
sub.on("publication", (ctx) => { window.got.push(ctx.data); });
sub.subscribe();
c.connect();
</script>"""


class PageServer:
    """The test's own web server (another origin than ringcast's): the SDK page and build."""

    def __init__(self, ws_url):
        self.dir = tempfile.TemporaryDirectory(prefix="ringcast-sdk-page-")
        shutil.copy(os.path.join(h.NODE_DIR, "node_modules", "centrifuge", "dist", "centrifuge.js"), self.dir.name)
        with open(os.path.join(self.dir.name, "index.html"), "w") as f:
            f.write(SDK_PAGE % json.dumps(ws_url))
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=self.dir.name)
        handler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.dir.cleanup()


def sdk_config(origins):
    return json.dumps({"client": {"allow_anonymous_connect_without_token": True, "allowed_origins": origins},
                       "channel": {"without_namespace": {"allow_subscribe_for_client": True,
                                                         "allow_subscribe_for_anonymous": True}},
                       "http_api": {"key": "browser-test-key"}})


def config_path(text, directory):
    path = os.path.join(directory, f"config-{len(os.listdir(directory))}.json")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def browser_sdk_on_another_origin_receives_api_publications():
    if not os.path.isdir(os.path.join(h.NODE_DIR, "node_modules", "centrifuge")):
        raise h.SkipTest("the centrifuge SDK is missing (scripts/setup.sh --test installs it)")
    port = h.free_port()
    page = PageServer(f"{'wss' if h.TLS else 'ws'}://127.0.0.1:{port}/connection/websocket")
    b = Browser()
    try:
        cfg = config_path(sdk_config([page.origin]), page.dir.name)
        with h.Server("--config", cfg, port=port) as srv:
            s = b.open_page(page.origin + "/index.html")
            b.wait_eval(s, "window.state", lambda v: v == "subscribed", what="the SDK subscribed")
            c = http.client.HTTPSConnection("127.0.0.1", port, context=h.client_tls()) if h.TLS else \
                http.client.HTTPConnection("127.0.0.1", port)
            c.request("POST", "/api/publish", body=json.dumps({"channel": "news", "data": {"price": 101.5}}),
                      headers={"X-API-Key": "browser-test-key"})
            h.check(c.getresponse().read() == b'{"result":{}}', "API publish")
            c.close()
            got = b.wait_eval(s, "window.got", lambda v: v, what="the publication in the page")
            h.check(got == [{"price": 101.5}], f"page got {got}")
        cfg = config_path(sdk_config([]), page.dir.name)  # the same page, not allowed
        with h.Server("--config", cfg, port=port) as srv:
            s = b.open_page(page.origin + "/index.html")
            h.wait_until(lambda: "rejected: 403 (forbidden_origin)" in srv.log(), timeout=15,
                         what="the page's upgrade refused")
            h.check(b.eval(s, "window.state") != "subscribed", "a refused page subscribed")
    finally:
        b.close()
        page.close()


if __name__ == "__main__":
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        print(f"FAIL setup: {CHROMIUM} is missing (scripts/setup.sh --test installs chromium)")
        print("0 passed, 1 failed")
        sys.exit(1)
    h.main()
