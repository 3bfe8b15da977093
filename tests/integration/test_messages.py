"""Message framing on the wire: sizes across every length encoding through /echo and the
chat room, fragments with interleaved pings, ping/pong, close handshakes both ways,
protocol errors, bad handshakes, and --max-message."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test, OP_TEXT, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_CLOSE  # noqa: E402

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 4 << 20]


def payload(n, seed=0):
    """Deterministic printable ASCII (valid UTF-8) of length n, different per seed."""
    base = bytes((33 + (i * 7 + seed) % 90) for i in range(4096))
    return (base * (n // 4096 + 1))[:n]


def recv_data(c, timeout=30.0):
    op, data = c.recv_message(timeout=timeout)
    return op, data


@test
def echo_every_length_encoding_text_and_binary():
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            for n in SIZES:
                for op in (OP_TEXT, OP_BINARY):
                    data = payload(n, seed=n + op)
                    if op == OP_BINARY:
                        data = bytes(b ^ 0x80 for b in data[:4096]) + data[4096:]  # non-UTF-8 bytes
                    c.send(op, data)
                    got_op, got = recv_data(c)
                    h.check(got_op == op, f"size {n}: opcode {got_op}, want {op}")
                    h.check(got == data, f"size {n} op {op}: payload differs (len {len(got)})")
        finally:
            c.close()


@test
def echo_16_mib_at_the_default_limit_written_in_odd_pieces():
    # Exactly the default --max-message (16 MiB), once in one frame and once in three
    # fragments, written in odd pieces so that frame headers and payload straddle TCP
    # segments (over wss, TLS records: the records the server seals on the way back are
    # 16 KiB, so the echo is split across about a thousand). One byte more: 1009 from the
    # header alone.
    n = 16 << 20
    F = h.RawClient.frame
    data = payload(n, seed=5)
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            for wire in (F(OP_BINARY, data),
                         F(OP_BINARY, data[:7], fin=False) + F(OP_CONT, data[7:n - 70000], fin=False)
                         + F(OP_CONT, data[n - 70000:])):
                off = 0
                for size in (1, 3, 9, 16383, 16385, 99991):
                    c.send_raw(wire[off:off + size])
                    off += size
                while off < len(wire):
                    c.send_raw(wire[off:off + (1 << 20) + 7])
                    off += (1 << 20) + 7
                got_op, got = recv_data(c, timeout=60)
                h.check(got_op == OP_BINARY and got == data, f"16 MiB echo: opcode {got_op}, "
                        f"{len(got)} bytes, {'equal' if got == data else 'different'}")
        finally:
            c.close()
        expect_error_close(srv, 1009, F(OP_BINARY, b"", length_override=n + 1)[:14])


@test
def echo_frame_headers_use_the_shortest_length_encoding():
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            for n, want_len_byte in ((125, 125), (126, 126), (65535, 126), (65536, 127)):
                c.send(OP_BINARY, b"\x01" * n)
                c._fill(2)
                h.check(c.buf[0] == 0x82, f"first byte {c.buf[0]:#x}: want FIN+binary")
                h.check(c.buf[1] == want_len_byte, f"size {n}: length byte {c.buf[1]}")
                fin, op, data = c.recv_frame(timeout=10)
                h.check(fin and op == OP_BINARY and len(data) == n, f"size {n}: frame {fin} {op} {len(data)}")
        finally:
            c.close()


@test
def chat_room_carries_every_size_to_every_client():
    with h.Server() as srv:
        a, b = h.open_clients(srv.port, 2)
        try:
            for n in SIZES:
                text = payload(n, seed=n).decode()
                a.send_text(text)
                for c in (a, b):
                    got = h.recv_chat(c, 1, timeout=30)
                    h.check(got[0][0] == a.name, f"{c.name}: sender {got[0][0]}")
                    h.check(got[0][1] == text, f"{c.name}: size {n} body differs (len {len(got[0][1])})")
        finally:
            h.close_all([a, b])


@test
def fragmented_text_with_ping_between_fragments():
    text = "fragmented ✓ message: " + "x" * 300 + " 𝄞 end"
    data = text.encode()
    # Cut through the middle of multi-byte characters on purpose.
    cut1, cut2, cut3 = data.index("✓".encode()) + 1, 150, data.index("𝄞".encode()) + 2
    parts = [data[:cut1], data[cut1:cut2], data[cut2:cut3], data[cut3:]]
    for path in ("/echo", "/"):
        with h.Server() as srv:
            c = h.RawClient(srv.port, path)
            try:
                c.send(OP_TEXT, parts[0], fin=False)
                c.send(OP_CONT, parts[1], fin=False)
                c.send(OP_PING, b"mid-message ping")
                c.send(OP_CONT, parts[2], fin=False)
                c.send(OP_CONT, parts[3], fin=True)
                # The pong may not wait for the message; it must come first here since the
                # message is not complete until after the ping.
                fin, op, pl = c.recv_frame(timeout=5)
                while op == OP_TEXT and path == "/" and h.is_notice(pl.decode()):
                    fin, op, pl = c.recv_frame(timeout=5)
                h.check(op == OP_PONG and pl == b"mid-message ping", f"{path}: got op {op} {pl[:50]!r}")
                if path == "/echo":
                    op, got = c.recv_message(timeout=5)
                    h.check(op == OP_TEXT and got == data, f"echo reassembly: {got[:80]!r}")
                else:
                    h.check(h.recv_chat(c, 1) == [(c.name, text)], "chat reassembly")
            finally:
                c.close()


@test
def fragmented_binary_many_continuations():
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            chunks = [bytes([i]) * (i * 37 % 300) for i in range(40)]
            c.send(OP_BINARY, chunks[0], fin=False)
            for i, ch in enumerate(chunks[1:], 1):
                if i % 10 == 0:
                    c.send(OP_PING, str(i).encode())
                c.send(OP_CONT, ch, fin=(i == len(chunks) - 1))
            pongs = []
            while True:
                fin, op, pl = c.recv_frame(timeout=5)
                if op == OP_PONG:
                    pongs.append(pl)
                    continue
                h.check(op == OP_BINARY, f"opcode {op}")
                parts = [pl]
                while not fin:
                    fin, op2, pl = c.recv_frame(timeout=5)
                    if op2 == OP_PONG:
                        pongs.append(pl)
                        continue
                    h.check(op2 == OP_CONT, f"opcode {op2} inside the echoed message")
                    parts.append(pl)
                break
            h.check(b"".join(parts) == b"".join(chunks), "reassembled binary differs")
            h.check(pongs == [b"10", b"20", b"30"], f"pongs {pongs!r}")
        finally:
            c.close()


@test
def ping_gets_pong_with_the_same_payload():
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            for pl in (b"", b"abc", bytes(range(125))):
                c.send(OP_PING, pl)
                fin, op, got = c.recv_frame(timeout=5)
                h.check(fin and op == OP_PONG and got == pl, f"ping {len(pl)}: got op {op} len {len(got)}")
            # An unsolicited pong is ignored.
            c.send(OP_PONG, b"unsolicited")
            c.send_text("after pong")
            h.check(c.recv_message(timeout=5) == (OP_TEXT, b"after pong"), "echo after a pong")
        finally:
            c.close()


@test
def client_initiated_close_is_echoed_then_tcp_closes():
    with h.Server() as srv:
        for code, reason in ((1000, b""), (1001, b"bye"), (4000, "bye ✓".encode()), (3000, b"")):
            c = h.RawClient(srv.port, "/echo")
            c.send(OP_CLOSE, struct.pack("!H", code) + reason)
            fin, op, pl = c.recv_frame(timeout=5)
            h.check(op == OP_CLOSE, f"got opcode {op} instead of close")
            h.check(h.close_code(pl) == code, f"sent close {code}, server answered {h.close_code(pl)}")
            c.expect_eof(5)
            c.sock.close()
        # A close with no payload is answered with an empty close or 1000.
        c = h.RawClient(srv.port, "/")
        c.send(OP_CLOSE, b"")
        while True:
            fin, op, pl = c.recv_frame(timeout=5)
            if op == OP_CLOSE:
                break
        h.check(h.close_code(pl) in (1000, 1005), f"empty close answered with {h.close_code(pl)}")
        h.check(h.close_code(pl) != 1005 or pl == b"", "close 1005 must not be sent on the wire")
        c.expect_eof(5)
        c.sock.close()


def expect_error_close(srv, code, *frames, path="/echo"):
    c = h.RawClient(srv.port, path)
    try:
        for f in frames:
            c.send_raw(f)
        while True:
            try:
                fin, op, pl = c.recv_frame(timeout=5)
            except h.ConnectionClosed:
                raise AssertionError(f"TCP closed without close frame {code}")
            if op == OP_CLOSE:
                got = h.close_code(pl)
                h.check(got == code, f"expected close {code}, got {got} ({pl[2:]!r})")
                break
        c.expect_eof(5)
    finally:
        c.sock.close()


@test
def protocol_errors_close_1002():
    F = h.RawClient.frame
    with h.Server() as srv:
        expect_error_close(srv, 1002, F(OP_TEXT, b"unmasked", mask=False))
        expect_error_close(srv, 1002, F(OP_TEXT, b"rsv", rsv=4))
        expect_error_close(srv, 1002, F(0x3, b"reserved opcode"))
        expect_error_close(srv, 1002, F(0xB, b"reserved control"))
        expect_error_close(srv, 1002, F(OP_PING, b"x" * 126))
        expect_error_close(srv, 1002, F(OP_PING, b"frag", fin=False))
        expect_error_close(srv, 1002, F(OP_CONT, b"no start"))
        expect_error_close(srv, 1002, F(OP_TEXT, b"a", fin=False) + F(OP_TEXT, b"b"))
        expect_error_close(srv, 1002, F(OP_CLOSE, b"\x03"))  # 1-byte close payload
        expect_error_close(srv, 1002, F(OP_CLOSE, struct.pack("!H", 1005)))
        expect_error_close(srv, 1002, F(OP_CLOSE, struct.pack("!H", 999)))
        # The chat room applies the same rules.
        expect_error_close(srv, 1002, F(OP_TEXT, b"unmasked", mask=False), path="/")
        # The server is still fine afterwards.
        c = h.RawClient(srv.port, "/echo")
        c.send_text("alive")
        h.check(c.recv_message(timeout=5) == (OP_TEXT, b"alive"), "server still echoes")
        c.close()


@test
def invalid_utf8_closes_1007():
    F = h.RawClient.frame
    with h.Server() as srv:
        expect_error_close(srv, 1007, F(OP_TEXT, b"ok \xff bad"))
        expect_error_close(srv, 1007, F(OP_TEXT, b"\xed\xa0\x80"))  # surrogate
        expect_error_close(srv, 1007, F(OP_TEXT, b"\xc0\xaf"))  # overlong
        expect_error_close(srv, 1007, F(OP_TEXT, b"x" * 200 + b"\xe2\x82"))  # truncated at end
        # Bad bytes in a later fragment, also in the chat room.
        expect_error_close(srv, 1007, F(OP_TEXT, b"fine", fin=False) + F(OP_CONT, b"\xf8\x88\x80\x80\x80"),
                           path="/")
        # Invalid UTF-8 in a close reason.
        expect_error_close(srv, 1007, F(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"))


@test
def bad_handshakes_get_http_errors_and_a_closed_connection():
    with h.Server() as srv:
        req = h.RawClient.request
        cases = [
            (400, b"GARBAGE\r\n\r\n"),
            (400, b"GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n"),  # header without a colon
            (400, req("/", {"Sec-WebSocket-Key": None})),
            (400, req("/", {"Sec-WebSocket-Key": "dG9vc2hvcnQ="})),  # decodes to 8 bytes
            (405, req("/").replace(b"GET /", b"POST /", 1)),
            (405, req("/").replace(b"GET /", b"PUT /", 1)),
            (426, req("/", {"Sec-WebSocket-Version": "8"})),
            (431, req("/", {"X-Big": "a" * 9000})),
            (431, req("/", {f"X-H{i}": "b" * 100 for i in range(100)})),
        ]
        for want, raw in cases:
            status, headers, body, closed = h.http_exchange(srv.port, raw)
            h.check(status == want, f"{raw[:60]!r}...: status {status}, want {want}")
            h.check(closed, f"{raw[:60]!r}...: connection not closed after {status}")
            if want == 426:
                h.check(headers.get("sec-websocket-version") == "13",
                        f"426 without Sec-WebSocket-Version: 13 ({headers})")
        # And a good handshake is still answered properly.
        c = h.RawClient(srv.port, "/", handshake=False)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        c.send_raw(h.RawClient.request("/", key=key))
        status, headers, _ = c.read_http_response()
        h.check(status == 101, f"status {status}")
        h.check(headers.get("sec-websocket-accept") == h.accept_key(key), f"accept {headers}")
        h.check(headers.get("upgrade", "").lower() == "websocket", f"upgrade {headers}")
        h.check("upgrade" in headers.get("connection", "").lower(), f"connection {headers}")
        c.close()


@test
def handshake_split_across_many_small_writes():
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo", handshake=False)
        try:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i, byte in enumerate(h.RawClient.request("/echo")):
                c.send_raw(bytes([byte]))
            status, _, _ = c.read_http_response()
            h.check(status == 101, f"status {status}")
            frame = h.RawClient.frame(OP_TEXT, b"byte by byte")
            for i in range(len(frame)):
                c.send_raw(frame[i:i + 1])
            h.check(c.recv_message(timeout=5) == (OP_TEXT, b"byte by byte"), "echo")
        finally:
            c.close()


@test
def max_message_limit_is_exact_and_closes_1009():
    with h.Server("--max-message", "1000") as srv:
        for path in ("/echo", "/"):
            c = h.RawClient(srv.port, path)
            try:
                exact = payload(1000).decode()
                c.send_text(exact)
                if path == "/echo":
                    h.check(c.recv_message(timeout=5) == (OP_TEXT, exact.encode()), "1000 B echo")
                else:
                    h.check(h.recv_chat(c, 1) == [(c.name, exact)], "1000 B chat")
                c.send_text(exact + "!")
                c.expect_close(1009)
            finally:
                c.sock.close()
        # The limit applies to the reassembled message, not to single fragments.
        F = h.RawClient.frame
        expect_error_close(srv, 1009, F(OP_BINARY, b"a" * 600, fin=False) + F(OP_CONT, b"b" * 401))
        # A frame header announcing a huge length is refused before the payload arrives.
        expect_error_close(srv, 1009, F(OP_BINARY, b"", length_override=1 << 40)[:14])
        # Fragments summing to exactly the limit are fine.
        c = h.RawClient(srv.port, "/echo")
        c.send_raw(F(OP_BINARY, b"a" * 600, fin=False) + F(OP_CONT, b"b" * 400))
        h.check(c.recv_message(timeout=5) == (OP_BINARY, b"a" * 600 + b"b" * 400), "1000 B fragmented")
        c.close()


@test
def handshake_variants_real_clients_send():
    F = h.RawClient.frame
    with h.Server() as srv:
        # Frames pipelined in the same write as the upgrade request are not lost.
        c = h.RawClient(srv.port, "/echo", handshake=False)
        c.send_raw(h.RawClient.request("/echo") + F(OP_TEXT, b"piped 1") + F(OP_BINARY, b"piped 2"))
        h.check(c.read_http_response()[0] == 101, "101")
        h.check(c.recv_message(timeout=5) == (OP_TEXT, b"piped 1"), "first pipelined frame")
        h.check(c.recv_message(timeout=5) == (OP_BINARY, b"piped 2"), "second pipelined frame")
        c.close()
        # Firefox: "Connection: keep-alive, Upgrade", and header values in any case.
        c = h.RawClient(srv.port, "/ff", headers={"Upgrade": "WebSocket", "Connection": "keep-alive, Upgrade",
                                                   "Sec-WebSocket-Protocol": "chat, superchat",
                                                   "Host": f"127.0.0.1:{srv.port}",
                                                   "Origin": f"http://127.0.0.1:{srv.port}"})
        h.check("sec-websocket-protocol" not in c.response_headers,
                "server picked a subprotocol it does not speak")
        c.send_text("ff")
        h.check(h.recv_chat(c, 1) == [(c.name, "ff")], "firefox-style client chats")
        c.close()
        # A query string does not change the room.
        a = h.RawClient(srv.port, "/qroom?token=abc")
        b = h.RawClient(srv.port, "/qroom")
        a.send_text("q")
        h.check(h.recv_chat(b, 1) == [(a.name, "q")], "/qroom?token=abc is room qroom")
        h.close_all([a, b])


@test
def frames_after_the_client_close_are_ignored():
    F = h.RawClient.frame
    with h.Server() as srv:
        c = h.RawClient(srv.port, "/echo")
        c.send_raw(F(OP_CLOSE, struct.pack("!H", 1000)) + F(OP_TEXT, b"after close"))
        fin, op, pl = c.recv_frame(timeout=5)
        h.check(op == OP_CLOSE and h.close_code(pl) == 1000, f"got op {op} {pl!r}")
        c.expect_eof(5)
        c.sock.close()


if __name__ == "__main__":
    h.main()
