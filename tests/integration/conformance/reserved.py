"""Reserved bits (RFC 6455 5.2): RSV1-3 MUST be 0 unless an extension defines them; none is
negotiated here, so any set bit on any frame fails the connection with 1002."""
from .core import add
from .wire import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, frame

KINDS = {
    "text": lambda rsv: frame(OP_TEXT, b"Hello", rsv=rsv),
    "binary": lambda rsv: frame(OP_BINARY, b"\x00\xff", rsv=rsv),
    "empty-text": lambda rsv: frame(OP_TEXT, b"", rsv=rsv),
    "ping": lambda rsv: frame(OP_PING, b"ping", rsv=rsv),
    "pong": lambda rsv: frame(OP_PONG, b"pong", rsv=rsv),
    "close": lambda rsv: frame(OP_CLOSE, b"\x03\xe8", rsv=rsv),
    "continuation": lambda rsv: frame(OP_TEXT, b"Hel", fin=False) + frame(OP_CONT, b"lo", rsv=rsv),
    "first-fragment": lambda rsv: frame(OP_TEXT, b"Hel", fin=False, rsv=rsv) + frame(OP_CONT, b"lo"),
}


def rsv_case(ctx, kind, rsv, after_valid):
    with ctx.ws() as c:
        wire = KINDS[kind](rsv)
        if after_valid:
            # The valid message is echoed first; then the bad frame fails the connection.
            wire = frame(OP_TEXT, b"valid first") + wire + frame(OP_TEXT, b"never echoed")
        c.send(wire, tolerate_close=True)
        if after_valid:
            c.expect_message(OP_TEXT, b"valid first")
        c.expect_close(1002)


for _kind in KINDS:
    for _rsv in range(1, 8):
        add(f"reserved.{_kind}.rsv{_rsv}-1002", rsv_case, _kind, _rsv, False)
    add(f"reserved.{_kind}.rsv1-after-valid-1002", rsv_case, _kind, 1, True)
