"""UTF-8 (RFC 6455 5.6, 8.1; RFC 3629): text messages and close reasons must be valid
UTF-8. Valid text is echoed byte for byte; invalid text fails with 1007 whether it comes in
one frame, split across fragments at every byte, or one byte per TCP write. Fail-fast:
the server must close with 1007 as soon as the bad byte arrives, before the message (or
even the frame) ends."""
from .core import add
from .wire import OP_CLOSE, OP_CONT, OP_TEXT, frame

VALID = {
    "ascii": b"Hello-World!",
    "kosme": "κόσμε".encode(),
    "mixed": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "nul": b"a\x00b",
    "u0080": b"\xc2\x80",
    "u07ff": b"\xdf\xbf",
    "u0800": b"\xe0\xa0\x80",
    "ud7ff": b"\xed\x9f\xbf",
    "ue000": b"\xee\x80\x80",
    "ufffd": b"\xef\xbf\xbd",
    "ufffe-noncharacter": b"\xef\xbf\xbe",
    "uffff-noncharacter": b"\xef\xbf\xbf",
    "u10000": b"\xf0\x90\x80\x80",
    "u10ffff": b"\xf4\x8f\xbf\xbf",
    "emoji-run": "😀🎉🚀𝄞".encode(),
}

# name -> bytes; every one makes the text invalid wherever it sits.
INVALID = {
    "lone-continuation-80": b"\x80",
    "lone-continuation-bf": b"\xbf",
    "continuations-80bf80": b"\x80\xbf\x80",
    "overlong-slash-2": b"\xc0\xaf",
    "overlong-slash-3": b"\xe0\x80\xaf",
    "overlong-slash-4": b"\xf0\x80\x80\xaf",
    "overlong-nul-2": b"\xc0\x80",
    "overlong-max-2-c1bf": b"\xc1\xbf",
    "overlong-max-3": b"\xe0\x9f\xbf",
    "overlong-max-4": b"\xf0\x8f\xbf\xbf",
    "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-dbff": b"\xed\xaf\xbf",
    "surrogate-dc00": b"\xed\xb0\x80",
    "surrogate-dfff": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above-10ffff-f490": b"\xf4\x90\x80\x80",
    "above-10ffff-f7": b"\xf7\xbf\xbf\xbf",
    "five-byte-f8": b"\xf8\x88\x80\x80\x80",
    "six-byte-fc": b"\xfc\x84\x80\x80\x80\x80",
    "byte-f5": b"\xf5",
    "byte-fe": b"\xfe",
    "byte-ff": b"\xff",
    "start-then-ascii-2": b"\xc2A",
    "start-then-ascii-3": b"\xe2\x82A",
    "start-then-ascii-4": b"\xf0\x9f\x98A",
    "kosme-broken": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
}

# Incomplete sequences are only invalid when the message ends there.
TRUNCATED_AT_END = {
    "truncated-2": b"\xc2",
    "truncated-3-of-3": b"\xe2\x82",
    "truncated-1-of-3": b"\xe2",
    "truncated-3-of-4": b"\xf0\x9f\x98",
    "truncated-2-of-4": b"\xf0\x9f",
    "kosme-truncated": "κόσμε".encode()[:-1],
}


def _send_fragments(c, data, split_points):
    cuts = [0, *split_points, len(data)]
    wire = b""
    for i in range(len(cuts) - 1):
        wire += frame(OP_TEXT if i == 0 else OP_CONT, data[cuts[i]:cuts[i + 1]], fin=i == len(cuts) - 2)
    c.send(wire, tolerate_close=True)


def text_case(ctx, data, valid, splits, bytewise=False):
    with ctx.ws() as c:
        if bytewise:
            c.send_pieces(frame(OP_TEXT, data), [1] * (len(data) + 14), tolerate_close=True)
        else:
            _send_fragments(c, data, splits)
        if valid:
            c.expect_message(OP_TEXT, data)
        else:
            c.expect_close(1007)


def register(name, data, valid):
    verdict = "echo" if valid else "1007"
    add(f"utf8.{name}.one-frame-{verdict}", text_case, data, valid, [])
    add(f"utf8.{name}.bytewise-tcp-{verdict}", text_case, data, valid, [], True)
    add(f"utf8.{name}.fragment-per-byte-{verdict}", text_case, data, valid, list(range(1, len(data))))
    for k in range(1, len(data)):
        add(f"utf8.{name}.split-at-{k}-{verdict}", text_case, data, valid, [k])


for _name, _seq in VALID.items():
    register(f"valid.{_name}", b"<" + _seq + b">", True)
for _name, _seq in INVALID.items():
    register(f"invalid.{_name}", b"ab" + _seq + b"cd", False)
for _name, _seq in TRUNCATED_AT_END.items():
    register(f"invalid.{_name}", b"ab" + _seq, False)


def fail_fast_fragment(ctx, bad):
    """The bad bytes come in a non-final fragment; the final one is never sent."""
    with ctx.ws() as c:
        c.send(frame(OP_TEXT, b"fine so far ", fin=False) + frame(OP_CONT, b"x" + bad + b"y", fin=False),
               tolerate_close=True)
        c.expect_close(1007)


def fail_fast_mid_frame(ctx, bad):
    """One frame declares 1000 bytes; only the first few (with the bad bytes) are sent until
    the 1007 arrives, then the rest of the frame and our close."""
    body = b"ok" + bad + b"z" * 1000
    body = body[:1000]
    wire = frame(OP_TEXT, body, fin=True)
    head = len(wire) - 1000
    cut = head + 2 + len(bad)
    with ctx.ws() as c:
        c.send(wire[:cut], tolerate_close=True)
        c.expect_close(1007, reply=False, eof=False)
        c.send(wire[cut:] + frame(OP_CLOSE, b"\x03\xef"), tolerate_close=True)
        c.expect_eof()


for _name in ("lone-continuation-80", "overlong-slash-2", "surrogate-d800", "above-10ffff-f490",
              "byte-ff", "byte-f5", "five-byte-f8", "start-then-ascii-3"):
    add(f"utf8.fail-fast.{_name}.in-unfinished-message-1007", fail_fast_fragment, INVALID[_name])
    add(f"utf8.fail-fast.{_name}.in-unfinished-frame-1007", fail_fast_mid_frame, INVALID[_name])


def binary_not_checked(ctx, data):
    from .wire import OP_BINARY
    with ctx.ws() as c:
        c.send_frame(OP_BINARY, data)
        c.expect_message(OP_BINARY, data)


add("utf8.binary-is-not-validated", binary_not_checked, b"".join(INVALID.values()))


def paused_text_case(ctx, data, valid):
    """A text frame sent one byte per write, 30 ms apart (separate receive completions)."""
    import time
    wire = frame(OP_TEXT, data)
    with ctx.ws() as c:
        for k in range(len(wire)):
            c.send(wire[k:k + 1], tolerate_close=not valid)
            time.sleep(0.03)
        if valid:
            c.expect_message(OP_TEXT, data)
        else:
            c.expect_close(1007)


add("utf8.valid.u10000.paused-bytes-echo", paused_text_case, b"<" + VALID["u10000"] + b">", True)
add("utf8.valid.u10ffff.paused-bytes-echo", paused_text_case, b"<" + VALID["u10ffff"] + b">", True)
add("utf8.invalid.surrogate-d800.paused-bytes-1007", paused_text_case, b"ab" + INVALID["surrogate-d800"] + b"cd", False)
add("utf8.invalid.above-10ffff-f490.paused-bytes-1007", paused_text_case,
    b"ab" + INVALID["above-10ffff-f490"] + b"cd", False)
