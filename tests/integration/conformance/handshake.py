"""Opening handshake (RFC 6455 4.1, 4.2, 4.4; RFC 9110; RFC 6585): a valid upgrade gets 101
with the right Sec-WebSocket-Accept; bad requests get 400, a non-GET upgrade 405, a wrong or
missing version 426 with `Sec-WebSocket-Version: 13`, oversize headers 431; after an error
the server closes TCP."""
import base64
import os

from .core import add, case
from .wire import OP_TEXT, CaseFailure, accept_key, frame, upgrade_request


def drain_eof(c):
    """Reads (and drops) the error body until the server closes TCP."""
    import socket
    import time
    deadline = time.monotonic() + c.timeout
    while time.monotonic() < deadline:
        c.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not c.sock.recv(65536):
                return
        except socket.timeout:
            break
        except ConnectionResetError:
            return
    raise CaseFailure(f"server did not close TCP within {c.timeout}s after an error response")


def status_case(ctx, request, status, header=None):
    with ctx.raw() as c:
        c.send(request, tolerate_close=True)
        got, headers = c.read_http_response()
        if got != status:
            raise CaseFailure(f"expected HTTP {status}, got {got}")
        if header and headers.get(header[0].lower(), "").replace(" ", "") != header[1]:
            raise CaseFailure(f"expected header {header[0]}: {header[1]}, got {headers.get(header[0].lower())!r}")
        drain_eof(c)


def req(**kw):
    headers = kw.pop("headers", {})
    return upgrade_request("/echo", headers, **kw)[0]


K16 = base64.b64encode(b"0123456789abcdef").decode()

BAD_400 = {
    "missing-key": req(headers={"Sec-WebSocket-Key": None}),
    "key-15-bytes": req(headers={"Sec-WebSocket-Key": base64.b64encode(b"x" * 15).decode()}),
    "key-17-bytes": req(headers={"Sec-WebSocket-Key": base64.b64encode(b"x" * 17).decode()}),
    "key-not-base64": req(headers={"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}),
    "key-empty": req(headers={"Sec-WebSocket-Key": ""}),
    "missing-host": req(headers={"Host": None}),
    "connection-without-upgrade-token": req(headers={"Connection": "keep-alive"}),
    "missing-connection": req(headers={"Connection": None}),
    "upgrade-http-1.0": req(version="HTTP/1.0"),
    "garbage-request-line": b"\x7fELF\x02\x01\x01garbage\r\n\r\n",
    "no-http-version": b"GET /echo\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET /echo HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
    "bare-lf-garbage": b"\x00\x01\x02\x03\r\n\r\n",
    "bare-lf-line-ends": req().replace(b"\r\n", b"\n"),
    "obsolete-line-folding": req().replace(b"\r\nUpgrade:", b"\r\nX-Fold: a\r\n b\r\nUpgrade:"),
    "duplicate-key": req().replace(b"\r\n\r\n", f"\r\nSec-WebSocket-Key: {K16}\r\n\r\n".encode()),
    "duplicate-host": req().replace(b"\r\n\r\n", b"\r\nHost: other\r\n\r\n"),
}
for _name, _req in BAD_400.items():
    add(f"handshake.{_name}-400", status_case, _req, 400)

# A browser page of another site (cross-site WebSocket hijacking): refused unless allowed.
add("handshake.cross-origin-403", status_case, req(headers={"Origin": "http://example.com"}), 403)
add("handshake.post-upgrade-405", status_case, req(method="POST"), 405)
add("handshake.put-upgrade-405", status_case, req(method="PUT"), 405)
add("handshake.version-8-426", status_case, req(headers={"Sec-WebSocket-Version": "8"}), 426,
    ("Sec-WebSocket-Version", "13"))
add("handshake.version-14-426", status_case, req(headers={"Sec-WebSocket-Version": "14"}), 426,
    ("Sec-WebSocket-Version", "13"))
add("handshake.missing-version-426", status_case, req(headers={"Sec-WebSocket-Version": None}), 426,
    ("Sec-WebSocket-Version", "13"))
add("handshake.one-huge-header-431", status_case, req(headers={"X-Big": "a" * 16384}), 431)
add("handshake.many-headers-431", status_case,
    req(headers={f"X-H{i}": "v" * 100 for i in range(200)}), 431)


@case("handshake.tls-hello-on-the-ws-port")
def tls_hello_on_ws_port(ctx):
    """wss:// dialled on the ws port: a TLS client cannot read an HTTP 400, so the server
    closes without a byte. Inside TLS (the suite over wss) the same bytes are just a bad
    request line: 400."""
    from . import wire
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64)
    with ctx.raw() as c:
        c.send(hello, tolerate_close=True)
        if wire.WRAP is not None:
            got, _ = c.read_http_response()
            if got != 400:
                raise CaseFailure(f"expected HTTP 400 inside TLS, got {got}")
            drain_eof(c)
        else:
            c.expect_eof()  # any byte before the close fails it


def ok_case(ctx, headers, path="/echo"):
    raw, key = upgrade_request(path, headers)
    with ctx.raw() as c:
        c.send(raw)
        status, hdrs = c.read_http_response()
        if status != 101:
            raise CaseFailure(f"expected 101, got {status}")
        if hdrs.get("sec-websocket-accept") != accept_key(key):
            raise CaseFailure(f"bad Sec-WebSocket-Accept {hdrs.get('sec-websocket-accept')!r}")
        if "websocket" not in hdrs.get("upgrade", "").lower():
            raise CaseFailure(f"bad Upgrade header {hdrs.get('upgrade')!r}")
        if "upgrade" not in hdrs.get("connection", "").lower():
            raise CaseFailure(f"bad Connection header {hdrs.get('connection')!r}")
        c.send_frame(OP_TEXT, b"works")
        c.expect_message(OP_TEXT, b"works")


add("handshake.valid-101", ok_case, {})
add("handshake.case-insensitive-values", ok_case, {"Upgrade": "WebSocket", "Connection": "UPGRADE"})
add("handshake.connection-token-list", ok_case, {"Connection": "keep-alive, Upgrade"})
add("handshake.extra-headers-and-origin", ok_case, {"Origin": "http://127.0.0.1", "User-Agent": "conf/1",
                                                    "Sec-WebSocket-Extensions": "x-unknown-ext"})
add("handshake.header-whitespace", ok_case, {"Sec-WebSocket-Version": "  13  "})
add("handshake.query-string", ok_case, {}, "/echo?x=1&y=2")


@case("handshake.lowercase-header-names")
def lowercase_names(ctx):
    key = base64.b64encode(os.urandom(16)).decode()
    raw = (f"GET /echo HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
           f"sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n\r\n").encode()
    with ctx.raw() as c:
        c.send(raw)
        status, hdrs = c.read_http_response()
        if status != 101 or hdrs.get("sec-websocket-accept") != accept_key(key):
            raise CaseFailure(f"got {status} {hdrs}")


@case("handshake.frames-in-same-packet")
def frames_with_request(ctx):
    """A client may send frames right behind the request, in the same TCP segment."""
    raw, key = upgrade_request("/echo")
    with ctx.raw() as c:
        c.send(raw + frame(OP_TEXT, b"early bird"))
        status, hdrs = c.read_http_response()
        if status != 101:
            raise CaseFailure(f"expected 101, got {status}")
        c.expect_message(OP_TEXT, b"early bird")


@case("handshake.request-bytewise")
def bytewise(ctx):
    raw, key = upgrade_request("/echo")
    with ctx.raw() as c:
        c.send_pieces(raw, [1] * len(raw))
        status, hdrs = c.read_http_response()
        if status != 101 or hdrs.get("sec-websocket-accept") != accept_key(key):
            raise CaseFailure(f"got {status}")
