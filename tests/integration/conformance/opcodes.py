"""Opcodes (RFC 6455 5.2): 0x3-0x7 and 0xB-0xF are reserved; receiving one fails the
connection (1002), also after a valid message, whose echo must arrive first."""
from .core import add
from .wire import OP_TEXT, frame

RESERVED = [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]


def opcode_case(ctx, opcode, payload, after_valid, fin):
    with ctx.ws() as c:
        wire = frame(opcode, payload, fin=fin)
        if after_valid:
            wire = frame(OP_TEXT, b"Hello") + wire + frame(OP_TEXT, b"never echoed")
        c.send(wire, tolerate_close=True)
        if after_valid:
            c.expect_message(OP_TEXT, b"Hello")
        c.expect_close(1002)


for _op in RESERVED:
    add(f"opcodes.op{_op:x}-empty-1002", opcode_case, _op, b"", False, True)
    add(f"opcodes.op{_op:x}-payload-1002", opcode_case, _op, b"reserved", False, True)
    add(f"opcodes.op{_op:x}-after-valid-1002", opcode_case, _op, b"reserved", True, True)
    add(f"opcodes.op{_op:x}-no-fin-1002", opcode_case, _op, b"reserved", False, False)
