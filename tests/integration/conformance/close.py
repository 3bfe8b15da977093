"""Close handling (RFC 6455 5.5.1, 7.1.5, 7.4): the server answers a client's close with a
close (echoing a valid code), then closes TCP; invalid codes and 1-byte payloads get 1002,
a non-UTF-8 reason 1007; frames after a close are ignored."""
import struct

from .core import add, case
from .wire import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, CaseFailure, Eof, close_payload, frame

# 7.4.1/7.4.2 and the IANA registry: codes a peer may send.
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
               3000, 3001, 3999, 4000, 4001, 4999]
# 0-999 unused; 1004-1006 and 1015 reserved (never on the wire); 1016-2999 unassigned
# protocol range; 5000+ undefined.
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def client_close(ctx, payload, expected, rest=b""):
    """We close first; the server replies (one of `expected`) and closes TCP."""
    with ctx.ws() as c:
        c.send(frame(OP_CLOSE, payload) + rest, tolerate_close=True)
        c.expect_close(expected, reply=False)


# Dense sweeps around the class boundaries, on top of the representatives above.
for _code in list(range(0, 16)) + list(range(990, 1021)) + [2998, 2999, 3000, 3001, 3998, 3999, 4000, 4998, 4999, 5000]:
    if _code not in VALID_CODES and _code not in INVALID_CODES:
        (VALID_CODES if 1000 <= _code <= 1003 or 1007 <= _code <= 1014 or 3000 <= _code <= 4999
         else INVALID_CODES).append(_code)

for _code in VALID_CODES:
    add(f"close.code-{_code}-echoed", client_close, struct.pack("!H", _code), _code)
for _code in INVALID_CODES:
    add(f"close.code-{_code}-invalid-1002", client_close, struct.pack("!H", _code), 1002)

add("close.empty-payload", client_close, b"", [None, 1000])
add("close.one-byte-payload-1002", client_close, b"\x03", 1002)
add("close.reason-ascii", client_close, close_payload(1000, "bye now"), 1000)
add("close.reason-utf8", client_close, close_payload(1001, "κόσμε 😀"), 1001)
add("close.reason-123-bytes-payload-125", client_close, close_payload(1000, "é" * 61 + "x"), 1000)
add("close.payload-126-1002", client_close, close_payload(1000, "x" * 124), 1002)
add("close.reason-invalid-utf8-1007", client_close, close_payload(1000, b"bad \xff reason"), 1007)
add("close.reason-surrogate-1007", client_close, close_payload(1000, b"\xed\xa0\x80"), 1007)
add("close.reason-truncated-1007", client_close, close_payload(1000, b"abc\xe2\x82"), 1007)
add("close.invalid-code-with-reason-1002", client_close, close_payload(999, "why"), 1002)
add("close.text-after-close-ignored", client_close, close_payload(1000), 1000,
    frame(OP_TEXT, b"must not be echoed"))
add("close.binary-and-ping-after-close-ignored", client_close, close_payload(1000), 1000,
    frame(OP_BINARY, b"\x01") + frame(OP_PING, b"p"))
add("close.garbage-after-close-ignored", client_close, close_payload(1000), 1000, b"\xff" * 64)
add("close.second-close-ignored", client_close, close_payload(1000), 1000, frame(OP_CLOSE, b"\x03\xe9"))


@case("close.after-messages")
def after_messages(ctx):
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"one") + frame(OP_BINARY, b"two") + frame(OP_CLOSE, close_payload(4321)))
        c.expect_message(OP_TEXT, b"one")
        c.expect_message(OP_BINARY, b"two")
        c.expect_close(4321, reply=False)


@case("close.half-closed-client")
def half_close(ctx):
    """The client sends close and shuts down its write side: the server still replies."""
    import socket
    with ctx.ws() as c:
        c.send(frame(OP_CLOSE, close_payload(1000)))
        c.sock.shutdown(socket.SHUT_WR)
        c.expect_close(1000, reply=False)


@case("close.tcp-eof-without-close")
def tcp_eof(ctx):
    """A client that closes TCP without a close frame: the server must not crash or hang;
    a new client is served afterwards."""
    import socket
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"partial", fin=False))
        c.sock.shutdown(socket.SHUT_WR)
        # It may send a close frame first (it cannot send 1006 on the wire), then EOF.
        try:
            fin, rsv, op, payload = c.recv_frame()
            if op != OP_CLOSE:
                raise CaseFailure(f"expected EOF or a close, got opcode {op:#x}")
        except Eof:
            pass
        c.expect_eof()
    with ctx.ws() as c:
        c.send_frame(OP_TEXT, b"still serving")
        c.expect_message(OP_TEXT, b"still serving")


@case("close.server-close-then-tcp-close-by-deadline")
def server_close_deadline(ctx):
    """After failing the connection (1002) the server waits for our close, but not forever:
    a client that never answers still gets its TCP connection closed (close deadline)."""
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"x", rsv=2), tolerate_close=True)
        c.expect_close(1002, reply=False, eof=False)
        c.expect_eof(15.0)


@case("close.server-close-then-prompt-tcp-close-after-client-close")
def server_close_prompt(ctx):
    """Once the client answers the server's close, the server closes TCP at once (RFC 6455
    7.1.1), well before its close deadline."""
    import time
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"x", rsv=2), tolerate_close=True)
        c.expect_close(1002, reply=False, eof=False)
        t0 = time.monotonic()
        c.send(frame(OP_CLOSE, close_payload(1002)), tolerate_close=True)
        c.expect_eof(10.0)
        dt = time.monotonic() - t0
        if dt > 2.5:
            raise CaseFailure(f"server closed TCP {dt:.1f}s after the client's close (waited for its deadline?)")


@case("close.close-frame-paused-bytes")
def close_paused(ctx):
    import time
    wire = frame(OP_CLOSE, close_payload(3003, "split"))
    with ctx.ws() as c:
        for k in range(len(wire)):
            c.send(wire[k:k + 1])
            time.sleep(0.03)
        c.expect_close(3003, reply=False)
