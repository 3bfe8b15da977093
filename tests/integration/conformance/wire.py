"""A strict raw-socket WebSocket client for conformance cases.

Every socket operation has a deadline. Failures raise CaseFailure with a message that says
what was expected and what arrived, so a FAIL line is enough to reproduce the case.
"""
import base64
import hashlib
import os
import socket
import struct
import threading
import time
import zlib

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Generous: tests also run against an ASan+UBSan server on a shared, noisy machine.
TIMEOUT = 5.0

# None: plain TCP (ws). Else a function taking a connected TCP socket and returning the
# socket-like object to speak through (test_conformance.py sets it to run over wss). Its
# shutdown(SHUT_WR) must half-close the stream, and a `seal(data)` method, if it has one,
# returns the bytes to put on `.raw` for `data` (for sending from another thread).
WRAP = None


class CaseFailure(AssertionError):
    pass


class Eof(CaseFailure):
    pass


def mask_bytes(payload, key):
    n = len(payload)
    if n == 0:
        return b""
    k = int.from_bytes((key * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, key=None):
    """One client frame; `length` overrides the header's payload length, `rsv` is 0..7."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(path="/echo", headers=None, key=None, method="GET", version="HTTP/1.1"):
    key = key or base64.b64encode(os.urandom(16)).decode()
    hdrs = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    for k, v in (headers or {}).items():
        hdrs[k] = v
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in hdrs.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class Conn:
    """One TCP connection; `ws()` turns it into a WebSocket after a 101."""

    def __init__(self, port, timeout=TIMEOUT):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if WRAP is not None:
            self.sock = WRAP(self.sock)
        self.buf = b""
        self.eof = False
        self._bg = None
        self.response_headers = {}
        self.deflate = False  # permessage-deflate negotiated: RSV1 messages are inflated

    # ---- low level -------------------------------------------------------------------
    def close_socket(self):
        if self._bg is not None:
            self._bg.join(self.timeout)
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_socket()

    def send(self, data, tolerate_close=False):
        """sendall; with tolerate_close a reset/closed peer is not an error (it may have
        failed the connection already, which is what the case then checks)."""
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if not tolerate_close:
                raise CaseFailure("server closed the connection while we were sending")
        except socket.timeout:
            if not tolerate_close:
                raise CaseFailure(f"send blocked for {self.timeout}s (server not reading)")

    def send_background(self, data):
        """Sends in a thread so the main thread can read a close that the server sends
        before it has read everything (e.g. 1009 on a frame header)."""
        if hasattr(self.sock, "seal"):  # TLS: encrypt here; the thread only sends the records
            data, s = self.sock.seal(data), self.sock.raw.dup()
        else:
            s = self.sock.dup()
        s.settimeout(self.timeout)

        def run():
            try:
                s.sendall(data)
            except OSError:
                pass
            finally:
                s.close()
        self._bg = threading.Thread(target=run, daemon=True)
        self._bg.start()

    def send_pieces(self, data, sizes, tolerate_close=False):
        """Sends `data` in consecutive pieces of the given sizes (the rest in one piece)."""
        off = 0
        for n in sizes:
            if off >= len(data):
                break
            self.send(data[off:off + n], tolerate_close)
            off += n
        if off < len(data):
            self.send(data[off:], tolerate_close)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailure(f"timed out waiting for data (have {len(self.buf)} of {n} bytes)")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except socket.timeout:
                raise CaseFailure(f"timed out waiting for data (have {len(self.buf)} of {n} bytes)")
            except ConnectionResetError:
                self.eof = True
                raise Eof(f"connection reset with {len(self.buf)} of {n} bytes")
            if not chunk:
                self.eof = True
                raise Eof(f"EOF with {len(self.buf)} of {n} bytes")
            self.buf += chunk

    # ---- HTTP ------------------------------------------------------------------------
    def read_http_response(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(len(self.buf) + 1, deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise CaseFailure(f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), v.strip())
        return int(parts[1]), headers

    def handshake(self, path="/echo", headers=None):
        req, key = upgrade_request(path, headers)
        self.send(req)
        status, hdrs = self.read_http_response()
        if status != 101:
            raise CaseFailure(f"handshake answered {status}, not 101")
        if hdrs.get("sec-websocket-accept") != accept_key(key):
            raise CaseFailure(f"bad Sec-WebSocket-Accept {hdrs.get('sec-websocket-accept')!r}")
        self.response_headers = hdrs
        self.deflate = hdrs.get("sec-websocket-extensions", "").startswith("permessage-deflate")
        return self

    # ---- frames ----------------------------------------------------------------------
    def send_frame(self, opcode, payload=b"", tolerate_close=False, **kw):
        self.send(frame(opcode, payload, **kw), tolerate_close)

    def recv_frame(self, timeout=None):
        """(fin, rsv, opcode, payload) of the next server frame."""
        deadline = time.monotonic() + (timeout or self.timeout)
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise CaseFailure("server sent a masked frame (RFC 6455 5.1)")
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._fill(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._fill(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload

    def recv_message(self, timeout=None, compressed=None):
        """The next data message (opcode, payload); fails on close, ping, pong or bad framing.
        With permessage-deflate, a message whose first frame has RSV1 is inflated; with
        `compressed` True or False, whether it came compressed must match."""
        deadline = time.monotonic() + (timeout or self.timeout)
        opcode, parts, first_rsv = None, [], 0
        while True:
            fin, rsv, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if opcode is None:
                first_rsv = rsv
            if rsv and not (self.deflate and rsv == 4 and op in (OP_TEXT, OP_BINARY)):
                raise CaseFailure(f"server frame with RSV bits {rsv} (opcode {op:#x})")
            if op == OP_CLOSE:
                raise CaseFailure(f"expected a message, got close {describe_close(payload)}")
            if op in (OP_PING, OP_PONG):
                raise CaseFailure(f"expected a message, got opcode {op:#x} {payload[:32]!r}")
            if op == OP_CONT:
                if opcode is None:
                    raise CaseFailure("server sent a continuation without a start")
            elif op in (OP_TEXT, OP_BINARY):
                if opcode is not None:
                    raise CaseFailure("server started a message inside a message")
                opcode = op
            else:
                raise CaseFailure(f"server sent reserved opcode {op:#x}")
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if compressed is not None and bool(first_rsv) != compressed:
                    raise CaseFailure(f"expected a {'compressed' if compressed else 'plain'} message, got "
                                      f"{'a compressed' if first_rsv else 'a plain'} one of {len(data)} bytes")
                if first_rsv:
                    try:
                        data = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")
                    except zlib.error as e:
                        raise CaseFailure(f"server sent a corrupt compressed message: {e}")
                return opcode, data

    def expect_message(self, opcode, payload, timeout=None, compressed=None):
        op, got = self.recv_message(timeout, compressed)
        if op != opcode or got != payload:
            raise CaseFailure(f"expected opcode {opcode} with {len(payload)} bytes {payload[:40]!r}, "
                              f"got opcode {op} with {len(got)} bytes {got[:40]!r}")

    def expect_pong(self, payload, timeout=None):
        fin, rsv, op, got = self.recv_frame(timeout)
        if op == OP_CLOSE:
            raise CaseFailure(f"expected a pong, got close {describe_close(got)}")
        if op != OP_PONG or not fin or rsv or got != payload:
            raise CaseFailure(f"expected pong {payload[:40]!r}, got opcode {op:#x} fin={fin} {got[:40]!r}")

    def expect_close(self, codes, timeout=None, reply=True, eof=True):
        """Reads until the server's close frame, which must carry one of `codes` (None in the
        list means an empty payload). Data frames before it fail the case. Then answers with
        a close (unless reply=False) and requires the server to close TCP (unless eof=False)."""
        if isinstance(codes, int) or codes is None:
            codes = [codes]
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            fin, rsv, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
        except Eof as e:
            raise CaseFailure(f"server closed TCP without a close frame (wanted {codes}): {e}")
        if op != OP_CLOSE:
            raise CaseFailure(f"expected close {codes}, got opcode {op:#x} with {payload[:40]!r}")
        if not fin or rsv:
            raise CaseFailure(f"close frame with fin={fin} rsv={rsv}")
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        if len(payload) == 1:
            raise CaseFailure("server close frame has a 1-byte payload")
        if code not in codes:
            raise CaseFailure(f"expected close {codes}, got {describe_close(payload)}")
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise CaseFailure(f"server close reason is not UTF-8: {payload[2:]!r}")
        if reply:
            self.send(frame(OP_CLOSE, payload[:2]), tolerate_close=True)
        if eof:
            self.expect_eof(max(0.5, deadline - time.monotonic()))
        return code

    def expect_eof(self, timeout=None):
        """The server must close TCP within the deadline; anything it still sends is an error."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailure(f"server did not close the TCP connection within {timeout or self.timeout:.1f}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return
            if not chunk:
                self.eof = True
                if self.buf:
                    raise CaseFailure(f"server sent {len(self.buf)} bytes after its close frame")
                return
            self.buf += chunk


def describe_close(payload):
    if len(payload) < 2:
        return f"<empty close, payload {payload!r}>"
    return f"{struct.unpack('!H', payload[:2])[0]} {payload[2:]!r}"
