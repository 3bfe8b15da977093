"""Pings and pongs (RFC 6455 5.5.2, 5.5.3): every payload length a control frame allows,
too long and fragmented pings, unsolicited pongs, pings between fragments."""
import random

from .core import add, case
from .wire import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, frame


def ping_len(ctx, n):
    data = random.Random(n).randbytes(n)
    with ctx.ws() as c:
        c.send_frame(OP_PING, data)
        c.expect_pong(data)
        # The connection still works afterwards.
        c.send_frame(OP_TEXT, b"after ping")
        c.expect_message(OP_TEXT, b"after ping")


for _n in range(126):
    add(f"pings.ping-payload-{_n}", ping_len, _n)


@case("pings.ping-payload-126-1002")
def ping_126(ctx):
    """5.5: control frames MUST have a payload length of 125 bytes or less."""
    with ctx.ws() as c:
        c.send_frame(OP_PING, b"x" * 126, tolerate_close=True)
        c.expect_close(1002)


@case("pings.ping-payload-65535-1002")
def ping_65535(ctx):
    with ctx.ws() as c:
        c.send_background(frame(OP_PING, b"x" * 65535))
        c.expect_close(1002)


@case("pings.fragmented-ping-1002")
def fragmented_ping(ctx):
    """5.5: control frames MUST NOT be fragmented."""
    with ctx.ws() as c:
        c.send(frame(OP_PING, b"frag", fin=False) + frame(OP_CONT, b"ment"), tolerate_close=True)
        c.expect_close(1002)


@case("pings.unsolicited-pong-ignored")
def unsolicited_pong(ctx):
    with ctx.ws() as c:
        c.send_frame(OP_PONG, b"unsolicited")
        c.send_frame(OP_PONG, b"")
        c.send_frame(OP_TEXT, b"after pongs")
        c.expect_message(OP_TEXT, b"after pongs")


@case("pings.pong-payload-125-ignored")
def pong_125(ctx):
    with ctx.ws() as c:
        c.send_frame(OP_PONG, b"p" * 125)
        c.send_frame(OP_BINARY, b"\x00after")
        c.expect_message(OP_BINARY, b"\x00after")


@case("pings.pong-payload-126-1002")
def pong_126(ctx):
    with ctx.ws() as c:
        c.send_frame(OP_PONG, b"p" * 126, tolerate_close=True)
        c.expect_close(1002)


@case("pings.ping-between-fragments")
def ping_between(ctx):
    """5.4: control frames MAY be injected in the middle of a fragmented message."""
    with ctx.ws() as c:
        c.send_frame(OP_TEXT, b"Hello, ", fin=False)
        c.send_frame(OP_PING, b"in the middle")
        c.expect_pong(b"in the middle")
        c.send_frame(OP_CONT, b"World!")
        c.expect_message(OP_TEXT, b"Hello, World!")


@case("pings.pong-between-fragments")
def pong_between(ctx):
    with ctx.ws() as c:
        c.send(frame(OP_BINARY, b"\x01", fin=False) + frame(OP_PONG, b"x") + frame(OP_CONT, b"\x02", fin=False)
               + frame(OP_PING, b"p") + frame(OP_CONT, b"\x03"))
        c.expect_pong(b"p")
        c.expect_message(OP_BINARY, b"\x01\x02\x03")


@case("pings.ten-pings-ten-pongs-in-order")
def ten_pings(ctx):
    with ctx.ws() as c:
        c.send(b"".join(frame(OP_PING, f"ping {i}".encode()) for i in range(10)))
        for i in range(10):
            c.expect_pong(f"ping {i}".encode())


@case("pings.ping-bytewise")
def ping_bytewise(ctx):
    with ctx.ws() as c:
        c.send_pieces(frame(OP_PING, b"slow ping" * 10), [1] * 200)
        c.expect_pong(b"slow ping" * 10)


@case("pings.ping-after-close-not-answered")
def ping_after_close(ctx):
    """5.5.1: after sending a close, the client sends nothing; the server must not answer
    frames that follow a close (it replies with its close and closes TCP)."""
    with ctx.ws() as c:
        c.send(frame(OP_CLOSE, b"\x03\xe8") + frame(OP_PING, b"late"), tolerate_close=True)
        c.expect_close(1000, reply=False)
