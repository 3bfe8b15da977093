"""permessage-deflate (RFC 7692): the negotiation of section 7 (the offers browsers and
libraries make, the ones Autobahn's 13.x cases make, the ones the RFC says to decline),
compressed messages of every size both ways, fragmented and not, text and binary, RFC
7692's own example payloads; RSV1 where it may not be (1002), a deflate bomb (1009), a
corrupt stream and compressed text that is not UTF-8 (1007). ringcast answers every
accepted offer the same way and compresses its replies from 128 bytes on."""
import os
import zlib

from .core import add, case
from .wire import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, CaseFailure, frame, upgrade_request

RESPONSE = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
RESPONSE_WINDOW = RESPONSE + "; server_max_window_bits=15"  # an accepted server_max_window_bits is repeated
OFFER = "permessage-deflate; client_max_window_bits"  # Chromium's, Firefox's, ws's and websockets'
MIN_SIZE = 128  # --deflate-min-size's default


def deflate(payload):
    """A permessage-deflate payload: raw DEFLATE, sync-flushed, the 00 00 ff ff tail removed."""
    z = zlib.compressobj(wbits=-15)
    out = z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def open_deflate(ctx, offer=OFFER):
    c = ctx.ws(headers={"Sec-WebSocket-Extensions": offer})
    got = c.response_headers.get("sec-websocket-extensions")
    # The offer ringcast takes is the first acceptable one: its own parameters decide.
    taken = next(o for o in offer.split(",") if "server_max_window_bits=9" not in o and "foo" not in o)
    want = RESPONSE_WINDOW if "server_max_window_bits" in taken else RESPONSE
    if got != want:
        c.close_socket()
        raise CaseFailure(f"offer {offer!r} answered {got!r}, not {want!r}")
    return c


# ---- negotiation ----------------------------------------------------------------------
ACCEPTED = {
    "plain": "permessage-deflate",
    "client-max-window-bits": OFFER,
    "client-max-window-bits-9": "permessage-deflate; client_max_window_bits=9",
    "client-no-context-takeover": "permessage-deflate; client_no_context_takeover",
    "server-no-context-takeover": "permessage-deflate; server_no_context_takeover",
    "server-max-window-bits-15": "permessage-deflate; server_max_window_bits=15",
    "all-four": "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
                "client_max_window_bits=15; server_max_window_bits=15",
    "quoted-value": 'permessage-deflate; client_max_window_bits="12"',
    "case-and-spaces": "PerMessage-Deflate ;  Client_Max_Window_Bits",
    "after-unknown-extension": "x-webkit-deflate-frame, permessage-deflate",
    "declined-then-next": "permessage-deflate; server_max_window_bits=9, permessage-deflate",
    "bad-then-next": "permessage-deflate; foo=1, permessage-deflate; client_max_window_bits",
}
DECLINED = {
    # RFC 7692 7.1.2.1: ringcast compresses with a 15-bit window for everyone.
    "server-max-window-bits-9": "permessage-deflate; server_max_window_bits=9",
    "server-max-window-bits-8": "permessage-deflate; server_max_window_bits=8",
    # Section 5 and 7: unknown, duplicate or invalid parameters decline the offer.
    "unknown-parameter": "permessage-deflate; foo",
    "duplicate-parameter": "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "window-bits-7": "permessage-deflate; client_max_window_bits=7",
    "window-bits-16": "permessage-deflate; client_max_window_bits=16",
    "window-bits-leading-zero": "permessage-deflate; client_max_window_bits=09",
    "server-window-without-value": "permessage-deflate; server_max_window_bits",
    "no-context-with-value": "permessage-deflate; server_no_context_takeover=1",
    "other-extension": "x-webkit-deflate-frame",
    "empty": "",
}


def accepted_case(ctx, offer):
    with open_deflate(ctx, offer) as c:
        msg = b'{"channel":"ticker:BTC","data":{"p":"101.25"}}' * 4
        c.send_frame(OP_TEXT, deflate(msg), rsv=4)
        c.expect_message(OP_TEXT, msg, compressed=True)


def declined_case(ctx, offer):
    with ctx.ws(headers={"Sec-WebSocket-Extensions": offer}) as c:
        got = c.response_headers.get("sec-websocket-extensions")
        if got is not None:
            raise CaseFailure(f"offer {offer!r} should be declined, answered {got!r}")
        msg = b"x" * 300
        c.send_frame(OP_TEXT, msg)
        c.expect_message(OP_TEXT, msg, compressed=False)
        c.send_frame(OP_TEXT, deflate(msg), rsv=4, tolerate_close=True)  # RSV1 without the extension
        c.expect_close(1002)


for _name, _offer in ACCEPTED.items():
    add(f"deflate.negotiate.{_name}", accepted_case, _offer)
for _name, _offer in DECLINED.items():
    add(f"deflate.decline.{_name}", declined_case, _offer)


@case("deflate.negotiate.offers-on-two-header-lines")
def two_lines(ctx):
    req, _ = upgrade_request("/echo", {"Sec-WebSocket-Extensions": "permessage-deflate; server_max_window_bits=10"})
    req = req.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    with ctx.raw() as c:
        c.send(req)
        status, headers = c.read_http_response()
        if status != 101 or headers.get("sec-websocket-extensions") != RESPONSE:
            raise CaseFailure(f"{status} {headers.get('sec-websocket-extensions')!r}: the second line's offer")


def off_case(ctx):
    declined_case(ctx, OFFER)


add("deflate.off.declines-every-offer", off_case, server_args=("--deflate", "off"))


# ---- messages -------------------------------------------------------------------------
SIZES = [0, 1, 125, 126, 127, 128, 1000, 65535, 65536, 1 << 20, 16 << 20]


def payload_of(size, binary):
    if binary:
        return os.urandom(size) if size <= 65536 else (os.urandom(4096) * (size // 4096 + 1))[:size]
    line = b'{"s":"BTC-USD","p":"101.25","v":7,"t":"\xe5\xbc\xb9\xe5\xb9\x95"}\n'  # danmaku in any script
    text = (line * (size // len(line) + 1))[:size]
    while True:  # a whole number of UTF-8 characters
        try:
            text.decode("utf-8")
            return text
        except UnicodeDecodeError:
            text = text[:-1] + b"x"


def echo_case(ctx, size, binary, fragments):
    op = OP_BINARY if binary else OP_TEXT
    msg = payload_of(size, binary)
    z = deflate(msg)
    with open_deflate(ctx) as c:
        c.timeout = 30.0
        if fragments == 1:
            c.send_frame(op, z, rsv=4)
        else:  # RSV1 on the first frame only
            step = max(1, len(z) // fragments + 1)
            pieces = [z[i:i + step] for i in range(0, len(z), step)] or [b""]
            wire = b"".join(frame(op if k == 0 else OP_CONT, p, fin=k == len(pieces) - 1, rsv=4 if k == 0 else 0)
                            for k, p in enumerate(pieces))
            c.send(wire)
        # Compressed from --deflate-min-size on, where that is smaller (random bytes are not).
        c.expect_message(op, msg, compressed=len(msg) >= MIN_SIZE and len(deflate(msg)) < len(msg))


for _size in SIZES:
    for _binary in (False, True):
        for _fragments in (1, 3):
            _kind = "binary" if _binary else "text"
            add(f"deflate.echo.{_kind}.{_size}.{'whole' if _fragments == 1 else 'fragmented'}",
                echo_case, _size, _binary, _fragments)


@case("deflate.echo.plain-message-on-a-deflate-connection")
def plain_on_deflate(ctx):
    with open_deflate(ctx) as c:
        msg = b"a" * 1000
        c.send_frame(OP_TEXT, msg)  # RSV1 clear: an uncompressed message, as the RFC allows
        c.expect_message(OP_TEXT, msg, compressed=True)
        c.send_frame(OP_TEXT, b"hi")
        c.expect_message(OP_TEXT, b"hi", compressed=False)  # below --deflate-min-size


RFC_PAYLOADS = {  # RFC 7692 section 7.2.3: "Hello" each way
    "7.2.3.1-compressed": bytes([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
    "7.2.3.3-no-compression": bytes([0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]),
    "7.2.3.4-bfinal": bytes([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
}


def rfc_case(ctx, payload):
    with open_deflate(ctx) as c:
        c.send_frame(OP_TEXT, payload, rsv=4)
        c.expect_message(OP_TEXT, b"Hello")


for _name, _payload in RFC_PAYLOADS.items():
    add(f"deflate.rfc.{_name}", rfc_case, _payload)


@case("deflate.rfc.7.2.3.2-two-messages-no-context")
def two_messages(ctx):
    with open_deflate(ctx) as c:
        hello = RFC_PAYLOADS["7.2.3.1-compressed"]
        c.send(frame(OP_TEXT, hello, rsv=4) + frame(OP_TEXT, hello, rsv=4))
        c.expect_message(OP_TEXT, b"Hello")
        c.expect_message(OP_TEXT, b"Hello")


# ---- violations -----------------------------------------------------------------------
@case("deflate.rsv1-on-continuation-1002")
def rsv1_continuation(ctx):
    with open_deflate(ctx) as c:
        z = deflate(b"Hello, world")
        c.send(frame(OP_TEXT, z[:4], fin=False, rsv=4) + frame(OP_CONT, z[4:], rsv=4), tolerate_close=True)
        c.expect_close(1002)


@case("deflate.rsv1-on-ping-1002")
def rsv1_ping(ctx):
    with open_deflate(ctx) as c:
        c.send_frame(OP_PING, b"p", rsv=4, tolerate_close=True)
        c.expect_close(1002)


@case("deflate.rsv2-1002")
def rsv2(ctx):
    with open_deflate(ctx) as c:
        c.send_frame(OP_TEXT, deflate(b"Hello"), rsv=6, tolerate_close=True)
        c.expect_close(1002)


@case("deflate.truncated-stream-1007")
def truncated(ctx):
    with open_deflate(ctx) as c:
        z = deflate(b"a message cut short is not a shorter message" * 3)
        c.send_frame(OP_TEXT, z[:len(z) // 2], rsv=4, tolerate_close=True)
        c.expect_close(1007)


@case("deflate.corrupt-stream-1007")
def corrupt(ctx):
    with open_deflate(ctx) as c:
        c.send_frame(OP_TEXT, b"\xff\xff\xff\xff", rsv=4, tolerate_close=True)
        c.expect_close(1007)


@case("deflate.text-not-utf8-after-inflate-1007")
def not_utf8(ctx):
    with open_deflate(ctx) as c:
        c.send_frame(OP_TEXT, deflate(b"ok \xff\xfe not text"), rsv=4, tolerate_close=True)
        c.expect_close(1007)


def bomb_case(ctx):
    # 64 MiB of zeros in ~64 KiB against --max-message 1M: closed at the limit.
    with open_deflate(ctx) as c:
        c.timeout = 15.0
        c.send_frame(OP_BINARY, deflate(bytes(64 << 20)), rsv=4, tolerate_close=True)
        c.expect_close(1009)
    with open_deflate(ctx) as c:  # others are served; exactly the limit passes
        c.timeout = 15.0
        c.send_frame(OP_BINARY, deflate(bytes(1 << 20)), rsv=4)
        c.expect_message(OP_BINARY, bytes(1 << 20), compressed=True)


def bomb_fragmented_case(ctx):
    with open_deflate(ctx) as c:
        c.timeout = 15.0
        z = deflate(bytes(8 << 20))
        half = len(z) // 2
        c.send(frame(OP_BINARY, z[:half], fin=False, rsv=4) + frame(OP_CONT, z[half:]), tolerate_close=True)
        c.expect_close(1009)


add("deflate.bomb-1009", bomb_case, server_args=("--max-message", "1M"))
add("deflate.bomb-fragmented-1009", bomb_fragmented_case, server_args=("--max-message", "1M"))
