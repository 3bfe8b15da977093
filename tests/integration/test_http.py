"""Plain HTTP next to the WebSocket endpoint: the chat page, /healthz, /metrics (and that
its counters move with traffic), 404/405 answers."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

METRICS = ["ringcast_connections", "ringcast_messages_in_total", "ringcast_messages_out_total",
           "ringcast_bytes_in_total", "ringcast_bytes_out_total", "ringcast_frames_dropped_total",
           "ringcast_slow_clients_closed_total", "ringcast_handshake_failures_total",
           "ringcast_accept_errors_total"]


def check_page(body, where):
    html = body.decode("utf-8", errors="replace")
    for pat in (r'<ul[^>]*\bid="log"', r'<input[^>]*\bid="msg"', r'<button[^>]*\bid="send"',
                r'<span[^>]*\bid="status"', r"WebSocket"):
        h.check(re.search(pat, html), f"{where}: page lacks {pat!r}")


@test
def get_root_serves_the_chat_page():
    with h.Server() as srv:
        for path in ("/", "/someroom"):
            status, headers, body = srv.http_get(path)
            h.check(status == 200, f"GET {path}: {status}")
            h.check(headers.get("content-type", "").startswith("text/html"),
                    f"GET {path}: content-type {headers.get('content-type')!r}")
            if "content-length" in headers:
                h.check(int(headers["content-length"]) == len(body), f"GET {path}: content-length")
            check_page(body, f"GET {path}")


@test
def healthz_is_ok():
    with h.Server() as srv:
        status, headers, body = srv.http_get("/healthz")
        h.check((status, body) == (200, b"ok\n"), f"/healthz: {status} {body!r}")


@test
def request_without_connection_close_is_answered():
    # HTTP/1.1 without Connection: close is kept alive: a complete answer, and the
    # connection stays open for the next request (HTTP/1.0 without keep-alive closes).
    with h.Server() as srv:
        req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        status, headers, body, closed = h.http_exchange(srv.port, req, timeout=1)
        h.check(status == 200, f"status {status}")
        h.check(body == b"ok\n", f"body {body!r}")
        h.check(not closed and headers.get("connection") == "keep-alive", f"closed {closed}, {headers}")
        status, headers, body, closed = h.http_exchange(srv.port, b"GET /healthz HTTP/1.0\r\n\r\n", timeout=1)
        h.check((status, body, closed) == (200, b"ok\n", True), f"HTTP/1.0: {status} {body!r} closed {closed}")


@test
def unknown_method_and_path_answers():
    with h.Server() as srv:
        status, headers, body, closed = h.http_exchange(
            srv.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        h.check(status == 405, f"POST /healthz: {status}")
        h.check("GET" in headers.get("allow", ""), f"405 without Allow: GET ({headers})")
        h.check(closed, "405: connection not closed")
        status, _, _, closed = h.http_exchange(
            srv.port, b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h.check(status == 405, f"DELETE /: {status}")
        status, _, _, closed = h.http_exchange(
            srv.port, b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h.check(status == 404, f"GET /no/such/thing: {status}")
        h.check(closed, "404: connection not closed")
        # A WebSocket upgrade on a path that is not a room (nor /echo) is a 404 too.
        for path in ("/no/such/room", "/healthz", "/metrics"):
            status, _, _, closed = h.http_exchange(srv.port, h.RawClient.request(path))
            h.check(status == 404, f"upgrade on {path}: {status}")
            h.check(closed, f"upgrade on {path}: connection not closed after 404")


@test
def keep_alive_serves_many_requests_on_one_connection():
    # Python's http.client keeps the connection; the socket must stay the same one across
    # GETs, a POST with a body (405, the body read and skipped), a 404, and a HEAD.
    import http.client
    with h.Server() as srv:
        if srv.tls:  # RINGCAST_TLS=1: https
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=h.client_tls())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            h.check((r.status, r.read()) == (200, b"ok\n"), "first GET /healthz")
            h.check(r.getheader("Connection") == "keep-alive", f"Connection: {r.getheader('Connection')}")
            sock = conn.sock
            conn.request("POST", "/healthz", body=b"x" * 100_000, headers={"Content-Type": "text/plain"})
            r = conn.getresponse()
            r.read()
            h.check(r.status == 405, f"POST with a body: {r.status}")
            conn.request("GET", "/no/such/thing")
            r = conn.getresponse()
            r.read()
            h.check(r.status == 404, f"404: {r.status}")
            conn.request("HEAD", "/metrics")
            r = conn.getresponse()
            h.check(r.status == 200 and r.read() == b"", f"HEAD /metrics: {r.status}")
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            h.check((r.status, r.read()) == (200, b"ok\n"), "last GET /healthz")
            h.check(conn.sock is sock, "the connection was not kept alive (http.client reconnected)")
        finally:
            conn.close()


@test
def bodies_past_the_limit_and_chunked_bodies_are_refused():
    with h.Server("--max-http-body", "1k") as srv:
        status, _, _, closed = h.http_exchange(
            srv.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n")
        h.check((status, closed) == (413, True), f"body over --max-http-body: {status}, closed {closed}")
        status, _, _, closed = h.http_exchange(
            srv.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        h.check((status, closed) == (501, True), f"chunked body: {status}, closed {closed}")
        status, _, _, closed = h.http_exchange(
            srv.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
        h.check((status, closed) == (400, True), f"repeated Content-Length: {status}, closed {closed}")
        m = h.metrics(srv)
        h.check(h.metric(m, 'ringcast_handshake_failures_total{reason="content_too_large"}') == 1,
                "413 not counted")
        h.check(h.metric(m, 'ringcast_handshake_failures_total{reason="not_implemented"}') == 1,
                "501 not counted")


@test
def metrics_lists_every_series_in_prometheus_format():
    with h.Server() as srv:
        status, headers, body = srv.http_get("/metrics")
        h.check(status == 200, f"/metrics: {status}")
        h.check(headers.get("content-type", "").startswith("text/plain"),
                f"/metrics content-type {headers.get('content-type')!r}")
        text = body.decode()
        m = h.parse_metrics(text)
        for name in METRICS:
            h.check(h.metric(m, name) is not None, f"/metrics lacks {name}")
            h.check(re.search(rf"^# TYPE {name} (counter|gauge)$", text, re.M), f"no # TYPE for {name}")
        h.check(re.search(r'^ringcast_handshake_failures_total\{reason="[a-z_]+"\} \d', text, re.M),
                "handshake failures not labelled by reason")
        backend = srv.backend()
        h.check(h.metric(m, f'ringcast_backend_info{{backend="{backend}"}}') == 1,
                f"/metrics does not say the backend is {backend}")
        for k, v in m.items():
            h.check(v >= 0, f"{k} is negative: {v}")


@test
def metrics_move_with_traffic():
    with h.Server() as srv:
        m0 = h.metrics(srv)
        g0 = h.metric(m0, "ringcast_connections")
        clients = h.open_clients(srv.port, 3)
        try:
            # The gauge counts open client sockets; the /metrics request itself may count too.
            h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_connections") - g0 >= 3,
                         what="connections gauge +3")
            for i, c in enumerate(clients):
                c.send_text(f"m{i}" * 10)
            for c in clients:
                h.recv_chat(c, 3)
            m1 = h.wait_until(lambda: (lambda m: m if h.metric(m, "ringcast_messages_out_total")
                                       - h.metric(m0, "ringcast_messages_out_total") >= 9 else None)(
                h.metrics(srv)), what="messages_out +9")
            d = {n: h.metric(m1, n) - h.metric(m0, n) for n in METRICS}
            h.check(d["ringcast_messages_in_total"] >= 3, f"messages_in moved by {d}")
            h.check(d["ringcast_bytes_in_total"] >= 3 * 20, f"bytes_in moved by {d}")
            h.check(d["ringcast_bytes_out_total"] >= 9 * 20, f"bytes_out moved by {d}")
            h.check(d["ringcast_messages_in_total"] < 100 and d["ringcast_messages_out_total"] < 200,
                    f"counters moved implausibly far: {d}")
        finally:
            for c in clients:
                c.close()
        h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_connections") <= g0,
                     what="connections gauge back to its start value")


@test
def handshake_failures_are_counted_by_reason():
    with h.Server() as srv:
        before = h.metric(h.metrics(srv), "ringcast_handshake_failures_total")
        h.http_exchange(srv.port, h.RawClient.request("/", {"Sec-WebSocket-Version": "7"}))
        h.http_exchange(srv.port, h.RawClient.request("/").replace(b"GET", b"POST", 1))
        h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_handshake_failures_total") - before >= 2,
                     what="handshake failures +2")


@test
def a_plain_get_does_not_join_the_room():
    with h.Server() as srv:
        c = h.RawClient(srv.port)
        try:
            h.drain(c, 0.2)  # our own join notice, if the server sends it
            for path in ("/", "/healthz", "/metrics"):
                h.check(srv.http_get(path)[0] == 200, f"GET {path}")
            for op, pl in h.drain(c, 0.3):
                raise AssertionError(f"a plain GET showed up in the room: {pl[:100]!r}")
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
