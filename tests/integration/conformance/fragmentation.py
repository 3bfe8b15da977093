"""Fragmentation (RFC 6455 5.4): every legal fragment sequence is reassembled and echoed
as one message of the first fragment's type; illegal sequences fail with 1002."""
from .core import add, case
from .wire import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, frame


def fragments(opcode, parts):
    """The frames of one message split into `parts` (the first carries the opcode)."""
    out = []
    for i, p in enumerate(parts):
        out.append(frame(opcode if i == 0 else OP_CONT, p, fin=i == len(parts) - 1))
    return out


LEGAL = {
    "two": [b"Hello, ", b"World!"],
    "three": [b"frag", b"ment", b"ed"],
    "ten": [bytes([65 + i]) * (i + 1) for i in range(10)],
    "single-bytes": [bytes([c]) for c in b"one byte per fragment"],
    "empty-first": [b"", b"body"],
    "empty-last": [b"body", b""],
    "empty-middle": [b"a", b"", b"b"],
    "all-empty": [b"", b"", b""],
    "one-fragment-fin": [b"only"],
    "large": [b"x" * 70000, b"y" * 126, b"z" * 65536],
}


def legal_case(ctx, opcode, parts, mode):
    frames = fragments(opcode, parts)
    with ctx.ws() as c:
        if mode == "one-write":
            c.send(b"".join(frames))
        else:
            for f in frames:
                c.send(f)
        c.expect_message(opcode, b"".join(parts), 10.0)


for _name, _parts in LEGAL.items():
    for _op, _kind in ((OP_TEXT, "text"), (OP_BINARY, "binary")):
        for _mode in ("one-write", "write-per-frame"):
            add(f"fragmentation.{_kind}.{_name}.{_mode}", legal_case, _op, _parts, _mode)


@case("fragmentation.two-messages-back-to-back")
def back_to_back(ctx):
    with ctx.ws() as c:
        c.send(b"".join(fragments(OP_TEXT, [b"a", b"b"]) + fragments(OP_BINARY, [b"\x01", b"\x02"])))
        c.expect_message(OP_TEXT, b"ab")
        c.expect_message(OP_BINARY, b"\x01\x02")


def illegal_case(ctx, wire, echoed=None):
    with ctx.ws() as c:
        c.send(wire, tolerate_close=True)
        if echoed is not None:
            c.expect_message(*echoed)
        c.expect_close(1002)


ILLEGAL = {
    # A continuation with no message started.
    "continuation-without-start-fin": frame(OP_CONT, b"orphan"),
    "continuation-without-start-nofin": frame(OP_CONT, b"orphan", fin=False) + frame(OP_CONT, b"x"),
    "continuation-empty-without-start": frame(OP_CONT, b""),
    # A new data frame inside a fragmented message.
    "text-inside-text": frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"),
    "binary-inside-text": frame(OP_TEXT, b"a", fin=False) + frame(OP_BINARY, b"b"),
    "text-start-inside-binary": frame(OP_BINARY, b"a", fin=False) + frame(OP_TEXT, b"b", fin=False),
    "text-inside-after-continuation": frame(OP_TEXT, b"a", fin=False) + frame(OP_CONT, b"b", fin=False)
    + frame(OP_TEXT, b"c"),
    # Fragmented control frames (5.5: control frames MUST NOT be fragmented).
    "fragmented-ping": frame(OP_PING, b"a", fin=False) + frame(OP_CONT, b"b"),
    "fragmented-pong": frame(OP_PONG, b"a", fin=False) + frame(OP_CONT, b"b"),
    "fragmented-close": frame(OP_CLOSE, b"\x03", fin=False) + frame(OP_CONT, b"\xe8"),
    "fragmented-ping-inside-message": frame(OP_TEXT, b"a", fin=False) + frame(OP_PING, b"p", fin=False)
    + frame(OP_CONT, b"q") + frame(OP_CONT, b"b"),
    "empty-fragmented-ping": frame(OP_PING, b"", fin=False),
}

for _name, _wire in ILLEGAL.items():
    add(f"fragmentation.illegal.{_name}-1002", illegal_case, _wire)

add("fragmentation.illegal.continuation-after-complete-message-1002", illegal_case,
    frame(OP_TEXT, b"done") + frame(OP_CONT, b"more"), (OP_TEXT, b"done"))
add("fragmentation.illegal.text-inside-text-after-valid-1002", illegal_case,
    frame(OP_BINARY, b"ok") + frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"), (OP_BINARY, b"ok"))


@case("fragmentation.close-between-fragments")
def close_between(ctx):
    """5.4: control frames may sit between fragments; a close there ends the connection
    normally (the unfinished message is dropped)."""
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"unfinished", fin=False) + frame(OP_CLOSE, b"\x03\xe8"))
        c.expect_close(1000, reply=False)
