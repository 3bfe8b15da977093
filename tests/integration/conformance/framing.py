"""Framing (RFC 6455 5.2): every payload length encoding, for text and binary, sent whole,
one byte per TCP write, and in random TCP chunks; the echo must match exactly."""
import random

from .core import add, case
from .wire import OP_BINARY, OP_TEXT, frame

LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]
# One write per byte costs a syscall per byte on both sides; beyond this prefix the rest of
# a large frame goes in 64 KiB writes (the header and first 64 KiB still arrive bytewise).
BYTEWISE_LIMIT = 65536 + 14


def text_payload(n, seed):
    """Valid UTF-8 of exactly n bytes mixing 1-, 2-, 3- and 4-byte characters."""
    rnd = random.Random(seed)
    alphabet = ["a", "Z", "0", " ", "é", "ß", "€", "ह", "𝄞", "😀"]
    out, size = [], 0
    while size < n:
        ch = rnd.choice(alphabet)
        b = len(ch.encode())
        if size + b > n:
            ch, b = "x", 1
        out.append(ch)
        size += b
    data = "".join(out).encode()
    assert len(data) == n
    return data


def payload_for(opcode, n, seed):
    if opcode == OP_TEXT:
        return text_payload(n, seed)
    return random.Random(seed).randbytes(n)


def echo_case(ctx, opcode, n, mode):
    data = payload_for(opcode, n, n * 31 + opcode)
    wire = frame(opcode, data)
    timeout = 10.0 if n >= 65536 else None
    with ctx.ws() as c:
        if mode == "whole":
            c.send(wire)
        elif mode == "bytewise":
            c.send_pieces(wire, [1] * min(len(wire), BYTEWISE_LIMIT) + [65536] * (len(wire) // 65536 + 1))
        else:
            rnd = random.Random(n ^ 0x5EED ^ opcode)
            c.send_pieces(wire, [rnd.randint(1, 4096) for _ in range(len(wire))])
        c.expect_message(opcode, data, timeout)
        c.send_frame(0x8, b"\x03\xe8")
        c.expect_close(1000, reply=False)


for _op, _name in ((OP_TEXT, "text"), (OP_BINARY, "binary")):
    for _n in LENGTHS:
        for _mode in ("whole", "bytewise", "chunks"):
            add(f"framing.{_name}.len{_n}.{_mode}", echo_case, _op, _n, _mode)


@case("framing.pipelined-100-messages-in-order")
def pipelined(ctx):
    msgs = [(OP_TEXT if i % 2 else OP_BINARY, payload_for(OP_TEXT, i * 7 % 300, i)) for i in range(100)]
    with ctx.ws() as c:
        c.send(b"".join(frame(op, p) for op, p in msgs))
        for op, p in msgs:
            c.expect_message(op, p)


@case("framing.zero-mask-key")
def zero_mask(ctx):
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"zero mask", key=b"\0\0\0\0"))
        c.expect_message(OP_TEXT, b"zero mask")


@case("framing.unmasked-client-frame-1002")
def unmasked(ctx):
    """RFC 6455 5.1: a server MUST close the connection on an unmasked client frame."""
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"not masked", mask=False), tolerate_close=True)
        c.expect_close(1002)


@case("framing.unmasked-after-valid-1002")
def unmasked_after_valid(ctx):
    with ctx.ws() as c:
        c.send(frame(OP_BINARY, b"\x01\x02") + frame(OP_BINARY, b"\x03", mask=False), tolerate_close=True)
        c.expect_message(OP_BINARY, b"\x01\x02")
        c.expect_close(1002)


@case("framing.binary-all-byte-values")
def all_bytes(ctx):
    data = bytes(range(256)) * 4
    with ctx.ws() as c:
        c.send_frame(OP_BINARY, data)
        c.expect_message(OP_BINARY, data)


@case("framing.random-mix-1000-messages")
def random_mix(ctx):
    rnd = random.Random(1234)
    msgs = []
    for i in range(1000):
        n = rnd.choice([0, 1, 2, 125, 126, 127, 300, 4000, 70000]) if i % 50 == 0 else rnd.randint(0, 200)
        op = rnd.choice([OP_TEXT, OP_BINARY])
        msgs.append((op, payload_for(op, n, i)))
    wire = b"".join(frame(op, p) for op, p in msgs)
    with ctx.ws() as c:
        c.send_background(wire)
        for op, p in msgs:
            c.expect_message(op, p, 10.0)


@case("framing.pipelined-20000-tiny-messages")
def tiny_flood(ctx):
    """20,000 small messages in a few big writes, read concurrently: every echo, in order."""
    msgs = [str(i).encode() for i in range(20000)]
    with ctx.ws() as c:
        c.send_background(b"".join(frame(OP_TEXT, m) for m in msgs))
        for m in msgs:
            c.expect_message(OP_TEXT, m, 10.0)


def paused_header_case(ctx, n):
    """Every header byte (and the first payload bytes) in its own write, 30 ms apart, so each
    lands in a separate receive completion: the decoder must keep its state across reads."""
    import time
    data = payload_for(OP_BINARY, n, n)
    wire = frame(OP_BINARY, data)
    head = len(wire) - n
    with ctx.ws() as c:
        for k in range(min(len(wire), head + 3)):
            c.send(wire[k:k + 1])
            time.sleep(0.03)
        c.send(wire[head + 3:])
        c.expect_message(OP_BINARY, data, 10.0)


for _n in (5, 126, 65536):
    add(f"framing.paused-header-bytes.len{_n}", paused_header_case, _n)


@case("framing.protocol-error-after-1mib-message-echo-first")
def error_after_big(ctx):
    """The close for a protocol error must not overtake the echo queued before it."""
    data = payload_for(OP_BINARY, 1 << 20, 77)
    with ctx.ws() as c:
        c.send_background(frame(OP_BINARY, data) + frame(0x3, b"reserved opcode"))
        c.expect_message(OP_BINARY, data, 10.0)
        c.expect_close(1002)
