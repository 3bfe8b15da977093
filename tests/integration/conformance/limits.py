"""Limits (RFC 6455 5.2, 7.4.1): a message of exactly --max-message bytes is echoed, one
byte more fails with 1009 (whole or fragmented); a 64-bit length with the most significant
bit set is a protocol error (1002)."""
import struct

from .core import add, case
from .wire import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, frame

MAX = 65536
LIMITED = ("--max-message", str(MAX))


def at_limit(ctx, opcode, parts):
    payload = (b"m" * MAX)
    cuts = [0, *parts, MAX]
    with ctx.ws() as c:
        c.send(b"".join(frame(opcode if i == 0 else OP_CONT, payload[cuts[i]:cuts[i + 1]], fin=i == len(cuts) - 2)
                        for i in range(len(cuts) - 1)))
        c.expect_message(opcode, payload, 10.0)


def over_limit(ctx, opcode, parts):
    payload = b"m" * (MAX + 1)
    cuts = [0, *parts, MAX + 1]
    with ctx.ws() as c:
        c.send_background(b"".join(frame(opcode if i == 0 else OP_CONT, payload[cuts[i]:cuts[i + 1]],
                                         fin=i == len(cuts) - 2) for i in range(len(cuts) - 1)))
        c.expect_close(1009, 10.0)


for _op, _kind in ((OP_TEXT, "text"), (OP_BINARY, "binary")):
    add(f"limits.{_kind}.at-max-one-frame", at_limit, _op, [], server_args=LIMITED)
    add(f"limits.{_kind}.at-max-fragmented", at_limit, _op, [MAX // 2], server_args=LIMITED)
    add(f"limits.{_kind}.at-max-many-fragments", at_limit, _op, list(range(1000, MAX, 1000)), server_args=LIMITED)
    add(f"limits.{_kind}.over-max-one-frame-1009", over_limit, _op, [], server_args=LIMITED)
    add(f"limits.{_kind}.over-max-fragmented-1009", over_limit, _op, [MAX // 2], server_args=LIMITED)
    add(f"limits.{_kind}.over-max-last-byte-alone-1009", over_limit, _op, [MAX], server_args=LIMITED)


@case("limits.over-max-header-only-1009", server_args=LIMITED)
def header_only(ctx):
    """A frame header announcing 1 GiB: the server must answer 1009 without waiting for it."""
    with ctx.ws() as c:
        c.send(struct.pack("!BBQ", 0x82, 0xFF, 1 << 30) + b"\x00\x00\x00\x00" + b"x" * 100)
        c.expect_close(1009, reply=False, eof=False)


@case("limits.pings-do-not-count-toward-message", server_args=LIMITED)
def pings_not_counted(ctx):
    with ctx.ws() as c:
        c.send_frame(OP_BINARY, b"a" * (MAX - 10), fin=False)
        c.send_frame(OP_PING, b"p" * 125)
        c.expect_pong(b"p" * 125)
        c.send_frame(OP_CONT, b"b" * 10)
        c.expect_message(OP_BINARY, b"a" * (MAX - 10) + b"b" * 10, 10.0)


def msb_length(ctx, low):
    with ctx.ws() as c:
        c.send(struct.pack("!BBQ", 0x82, 0xFF, (1 << 63) | low) + b"\x01\x02\x03\x04" + b"x" * 16,
               tolerate_close=True)
        c.expect_close(1002, reply=False, eof=False)


add("limits.length-msb-set-1002", msb_length, 5, server_args=LIMITED)
add("limits.length-msb-set-default-server-1002", msb_length, 5)
add("limits.length-all-ones-1002", msb_length, (1 << 63) - 1)
