"""Shared harness for ringcast integration tests.

Each tests/integration/test_*.py is one ctest test run as
    /usr/bin/python3 test_x.py --ringcast PATH --build-dir DIR [-k SUBSTRING]
It starts real ringcast processes on 127.0.0.1 (free ports), talks to them through real
sockets, and ends with the plain closing line "N passed, N failed" (exit 1 on failure,
77 to skip when something outside the project is missing). RINGCAST_BACKEND=uring|epoll|auto
in the environment adds --backend to every ringcast a Server starts (ctest's
integration.epoll.* run the whole suite on epoll that way). tls_files() makes a
self-signed certificate for 127.0.0.1/localhost once per run (openssl from Debian), and
client_tls() is a client context that trusts exactly it. RINGCAST_TLS=1 in the environment
gives every Server tls_args() (unless the test passes its own --tls-* flags): its --port
speaks wss:// and https://, Server.url() says wss://, and RawClient, raw_socket(),
http_get() and http_exchange() talk TLS (TlsSocket) to such a port (ctest's
integration.wss.* run part of the suite that way); tests that need plain TCP under it skip
with require_plain_tcp().
"""
import argparse
import base64
import json
import os
import queue
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")
_tests = []


def test(fn):
    """Registers a test function taking no arguments."""
    _tests.append(fn)
    return fn


ARGS = None


def parse_args():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--ringcast", required=True, help="path to the ringcast executable")
    p.add_argument("--build-dir", default=None, help="the CMake build directory")
    p.add_argument("-k", default="", help="run only tests whose name contains this")
    ARGS = p.parse_args()
    if BACKEND not in (None, "uring", "epoll", "auto"):
        p.error(f"RINGCAST_BACKEND={BACKEND!r}: want uring, epoll or auto")
    if _TLS_ENV not in ("", "0", "1"):
        p.error(f"RINGCAST_TLS={_TLS_ENV!r}: want 1 (wss) or 0/unset (ws)")
    return ARGS


# RINGCAST_BACKEND=uring|epoll|auto: every ringcast the harness starts gets --backend with
# it (unless the test passes its own), so the whole suite can run on each I/O backend.
BACKEND = os.environ.get("RINGCAST_BACKEND") or None

# RINGCAST_TLS=1: every ringcast the harness starts serves wss on --port with tls_files()'
# pair (unless the test passes its own --tls-* flags), and the harness' clients speak TLS
# to it. Plain runs (unset or 0) are unchanged.
_TLS_ENV = os.environ.get("RINGCAST_TLS", "")
TLS = _TLS_ENV == "1"


def backend_args(args=()):
    """["--backend", RINGCAST_BACKEND] unless it is unset or `args` choose a backend."""
    if BACKEND is None or any(a == "--backend" or a.startswith("--backend=") for a in args):
        return []
    return ["--backend", BACKEND]


def main():
    """Runs the registered tests in order and prints the closing line."""
    parse_args()
    passed = failed = 0
    for fn in _tests:
        if ARGS.k and ARGS.k not in fn.__name__:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"PASS {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
        except SkipTest as e:
            print(f"SKIP {fn.__name__}: {e}", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


class SkipTest(Exception):
    pass


_tls_dir = None


def tls_files():
    """(certificate, key) PEM paths of a self-signed pair for 127.0.0.1 and localhost, made
    on first use with the openssl command line (it lives until the test process exits)."""
    global _tls_dir
    if _tls_dir is None:
        _tls_dir = tempfile.TemporaryDirectory(prefix="ringcast-tls-")
        make_cert(os.path.join(_tls_dir.name, "cert.pem"), os.path.join(_tls_dir.name, "key.pem"))
    return os.path.join(_tls_dir.name, "cert.pem"), os.path.join(_tls_dir.name, "key.pem")


def make_cert(cert, key, cn="localhost", kind="rsa:2048"):
    """A self-signed certificate `cert` with its key `key` (PEM), valid for 127.0.0.1 and
    localhost; `kind` is openssl req's -newkey (rsa:2048, ec -pkeyopt ...)."""
    newkey = ["-newkey", kind] if kind.startswith("rsa") else [
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)


def client_tls(cafile=None):
    """A client SSLContext that verifies the server against `cafile` (tls_files()' certificate
    by default), with ALPN http/1.1 as browsers offer it."""
    ctx = ssl.create_default_context(cafile=cafile or tls_files()[0])
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def tls_args():
    """The flags that make --port speak wss with tls_files()' pair."""
    cert, key = tls_files()
    return ["--tls-cert", cert, "--tls-key", key]


def tls_server_args(args=()):
    """tls_args() under RINGCAST_TLS=1, unless `args` carry --tls-* flags of their own."""
    if not TLS or any(a.startswith("--tls-") for a in args):
        return []
    return tls_args()


def require_plain_tcp(why):
    """Skips the calling test under RINGCAST_TLS=1: it needs TCP bytes TLS would hide."""
    if TLS:
        raise SkipTest(f"not run over wss (RINGCAST_TLS=1): {why}")


# The ports of the servers this process started with tls_server_args(): clients the harness
# opens to them speak TLS.
_tls_ports = set()


def speaks_tls(port):
    return port in _tls_ports


class TlsSocket:
    """A client TLS connection (client_tls(), server name 127.0.0.1) over a plain TCP socket,
    with OpenSSL driven through memory BIOs so that every socket operation stays ours. It
    offers what the tests use of a socket: sendall/send, recv, settimeout/gettimeout,
    setsockopt/getsockopt, getsockname/getpeername, fileno, shutdown, close, with.
    - recv(n) returns decrypted bytes; b"" after the server's close_notify or a TCP EOF
      (`ragged` is then True); a timeout spans the whole call, not one read of the socket.
    - shutdown(SHUT_WR) is TLS's half-close: close_notify, then TCP FIN; reading goes on.
    - One thread may read while another writes (an SSL object must not be used by two
      threads at once: a lock guards it, and another keeps the records in order on the wire).
    - seal(data) encrypts `data` without sending it, for sending from another thread on
      raw.dup() (nothing else may be sent until that is done).
    - raw is the TCP socket itself."""

    def __init__(self, sock, ctx=None, server_hostname="127.0.0.1"):
        self.raw = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = (ctx or client_tls()).wrap_bio(self._in, self._out, server_hostname=server_hostname)
        self._ssl_lock = threading.Lock()   # the SSL object and its BIOs
        self._send_lock = threading.Lock()  # ciphertext to the socket, in order (taken first)
        self._plain = bytearray()  # decrypted, not yet returned by recv()
        self._eof = False      # close_notify or TCP EOF seen
        self.ragged = False    # the EOF came without close_notify
        self._wr_shut = False
        deadline = self._deadline()
        while True:
            try:
                with self._ssl_lock:
                    self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not self._feed(deadline):
                    raise ConnectionResetError("TLS: the server closed the connection during the handshake")
        self._flush()

    # -- plumbing ----------------------------------------------------------------------
    def _deadline(self):
        t = self.raw.gettimeout()
        return None if t is None else time.monotonic() + t

    def _flush(self):
        """Sends what OpenSSL wrote (records, alerts)."""
        with self._send_lock:
            with self._ssl_lock:
                data = self._out.read()
            if data:
                self.raw.sendall(data)

    def _feed(self, deadline):
        """One read of the socket into OpenSSL (waiting until `deadline`); False at TCP EOF."""
        if deadline is not None:
            left = deadline - time.monotonic()
            poll = select.poll()  # (not select(): descriptors may be past FD_SETSIZE)
            poll.register(self.raw, select.POLLIN)
            if left <= 0 or not poll.poll(left * 1000):
                raise socket.timeout("timed out")
        chunk = self.raw.recv(1 << 20)
        with self._ssl_lock:
            if chunk:
                self._in.write(chunk)
            else:
                self._in.write_eof()
        return bool(chunk)

    def _decrypt(self, limit):
        """Moves the plaintext of the records already received into _plain (while it holds
        less than `limit` bytes); notes close_notify/EOF. Holds the SSL lock."""
        while len(self._plain) < limit and not self._eof:
            try:
                data = self.tls.read(65536)  # (one record at most)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify
                self._eof = True
                break
            except ssl.SSLEOFError:  # TCP EOF without close_notify
                self._eof = self.ragged = True
                break
            if not data:
                self._eof = True
                break
            self._plain += data

    # -- the socket API ----------------------------------------------------------------
    def recv(self, n=65536):
        deadline = self._deadline()
        while True:
            with self._ssl_lock:
                self._decrypt(n)
                out = bytes(self._plain[:n]) if self._plain or self._eof else None
                del self._plain[:n]
            if self._out.pending:
                self._flush()  # post-handshake messages may want an answer
            if out is not None:
                return out
            self._feed(deadline)

    def seal(self, data):
        """The TLS records carrying `data` (and any output not sent yet), not sent."""
        with self._send_lock, self._ssl_lock:
            if data:
                self.tls.write(data)
            return self._out.read()

    def sendall(self, data):
        if self._wr_shut:
            raise BrokenPipeError("TLS: write side shut down")
        with self._send_lock:
            with self._ssl_lock:
                if data:
                    self.tls.write(data)
                wire = self._out.read()
            if wire:
                self.raw.sendall(wire)

    def send(self, data):
        self.sendall(data)
        return len(data)

    def shutdown(self, how):
        if how in (socket.SHUT_WR, socket.SHUT_RDWR) and not self._wr_shut:
            self._wr_shut = True
            with self._ssl_lock:
                self._decrypt(1 << 62)  # keep what already arrived: SSL_shutdown could drop it
                try:
                    self.tls.unwrap()  # queues close_notify
                except ssl.SSLError:  # (SSLWantReadError: the server's has not come yet)
                    pass
            try:
                self._flush()
            except OSError:
                pass
        self.raw.shutdown(how)

    def close(self):
        self.raw.close()

    def settimeout(self, t):
        self.raw.settimeout(t)

    def gettimeout(self):
        return self.raw.gettimeout()

    def setsockopt(self, *a):
        self.raw.setsockopt(*a)

    def getsockopt(self, *a):
        return self.raw.getsockopt(*a)

    def getsockname(self):
        return self.raw.getsockname()

    def getpeername(self):
        return self.raw.getpeername()

    def fileno(self):
        return self.raw.fileno()

    def selected_alpn_protocol(self):
        return self.tls.selected_alpn_protocol()

    def version(self):
        return self.tls.version()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def client_socket(sock, port, tls=None):
    """`sock` (connected to `port`) as the tests should talk over it: wrapped in a TlsSocket
    when `tls` says so, or (tls=None) when the harness serves wss on `port`."""
    if tls is None:
        tls = speaks_tls(port)
    if not tls:
        return sock
    try:
        return TlsSocket(sock)
    except BaseException:
        sock.close()
        raise


def connect(port, timeout=5.0, tls=None):
    """socket.create_connection to 127.0.0.1:port, through client_socket()."""
    return client_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout), port, tls)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ringcast process on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, *args, port=None, env=None, preexec_fn=None, wrapper=()):
        """`wrapper`: a command the server runs under (e.g. [no_uring, "EPERM"]), which must
        exec ringcast with the arguments that follow it."""
        self.port = port or free_port()
        self.forced = backend_args(args)  # RINGCAST_BACKEND's flag, if it applies
        tls = tls_server_args(args)  # RINGCAST_TLS's flags, if they apply
        self.tls = bool(tls)  # --port speaks wss with tls_files()' pair: the harness' clients use TLS
        (_tls_ports.add if self.tls else _tls_ports.discard)(self.port)
        self.args = [*wrapper, ARGS.ringcast, "--host", "127.0.0.1", "--port", str(self.port), *args,
                     *self.forced, *tls]
        self.stderr = tempfile.TemporaryFile(mode="w+b")
        self.env = env
        self.preexec_fn = preexec_fn
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        running = self.proc is not None and self.proc.poll() is None
        rc = self.stop()
        if exc_type is None and running:
            # A server alive at the end of a test must shut down cleanly: exit 0 (which also
            # catches LeakSanitizer at exit) and no sanitizer report along the way.
            log = self.log()
            if rc != 0 or any(m in log for m in SANITIZER_MARKS):
                raise AssertionError(f"ringcast exited with {rc} at the end of the test: {log[-3000:]}")

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     env=self.env, preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ringcast exited with {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.05)
                continue
            # Its own line too: on a port another server already holds (SO_REUSEPORT) the
            # connect proves nothing about this one.
            if "listening on" not in self.log():
                time.sleep(0.05)
                continue
            if self.forced and self.forced[1] != "auto":
                # A suite run for one backend must not pass on another.
                try:
                    got = self.backend()
                    check(got == self.forced[1], f"RINGCAST_BACKEND={self.forced[1]} but ringcast runs {got}")
                except AssertionError:
                    self.proc.kill()
                    self.proc.wait()
                    raise
            return
        raise AssertionError(f"ringcast did not listen on port {self.port} within {timeout}s")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the server and returns its exit code (kills it after `timeout`)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ringcast did not exit within {timeout}s of signal {sig}")

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def backend(self, timeout=5.0):
        """The backend named by the listening line (`... backend=epoll, ...`): "uring" or
        "epoll". The socket listens a moment before the line is written, so this waits."""
        def named():
            m = re.search(r"^ringcast: listening on .*\bbackend=(\w+)", self.log(), re.M)
            return m and m.group(1)
        return wait_until(named, timeout=timeout, what="the listening line")

    def url(self, path="/"):
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}{path}"

    def http_url(self, path="/"):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def http_get(self, path, method="GET", timeout=5.0):
        """A plain HTTP/1.1 request; returns (status, headers dict lower-cased, body bytes)."""
        with connect(self.port, timeout=timeout) as s:
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status, headers = parse_http_head(head)
        return status, headers, body


OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class ConnectionClosed(Exception):
    pass


class RawClient:
    """A WebSocket client over a raw socket, so tests control every byte on the wire."""

    def __init__(self, port, path="/", timeout=5.0, handshake=True, headers=None, rcvbuf=None, tls=None):
        """tls: speak TLS (True), or not (False); None: as the harness serves `port`."""
        if rcvbuf is None:
            self.sock = connect(port, timeout=timeout, tls=tls)
        else:  # a small receive buffer must be set before connect to bound the TCP window
            self.sock = raw_socket(port, timeout=timeout, rcvbuf=rcvbuf, tls=tls)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.local_port = self.sock.getsockname()[1]
        self.name = f"ID{self.local_port}"
        if handshake:
            status, resp_headers = self.handshake(path, headers)
            if status != 101:
                raise AssertionError(f"handshake answered {status}")
            self.response_headers = resp_headers

    @staticmethod
    def request(path="/", headers=None, key=None):
        key = key or base64.b64encode(os.urandom(16)).decode()
        hdrs = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        if headers:
            hdrs.update(headers)
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdrs.items() if v is not None]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def handshake(self, path="/", headers=None):
        self.sock.sendall(self.request(path, headers))
        return self.read_http_response()[:2]

    def read_http_response(self):
        """Returns (status, headers, body-so-far) of an HTTP response."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("closed before the HTTP response ended")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, headers = parse_http_head(head)
        return status, headers, self.buf

    def send_raw(self, data):
        self.sock.sendall(data)

    @staticmethod
    def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length_override=None):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length_override is None else length_override
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n <= 0xFFFF:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return head + payload
        key = mask_key if mask_key is not None else os.urandom(4)
        masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if len(payload) < 4096 \
            else _xor_fast(payload, key)
        return head + key + masked

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send(OP_TEXT, text.encode())

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionClosed(f"EOF with {len(self.buf)} of {n} bytes")
            self.buf += chunk

    def recv_frame(self, timeout=None):
        """Returns (fin, opcode, payload) of the next frame from the server."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        self._fill(2)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server sent a masked frame")
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._fill(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._fill(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=None, answer_pings=True):
        """Reassembles the next data message: returns (opcode, payload). Close -> ConnectionClosed."""
        opcode, parts = None, []
        while True:
            fin, op, payload = self.recv_frame(timeout)
            if op == OP_PING and answer_pings:
                self.send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                raise ConnectionClosed(close_code(payload))
            if op != OP_CONT:
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def recv_text(self, timeout=None):
        op, payload = self.recv_message(timeout)
        if op != OP_TEXT:
            raise AssertionError(f"expected text, got opcode {op}")
        return payload.decode()

    def expect_close(self, code=None, timeout=5.0):
        """Reads until the server's close frame; checks its code; then expects the TCP close."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            fin, op, payload = self.recv_frame()
            if op == OP_CLOSE:
                got = close_code(payload)
                if code is not None and got != code:
                    raise AssertionError(f"expected close {code}, got {got} ({payload[2:]!r})")
                try:
                    self.send(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                self.expect_eof(max(0.5, deadline - time.monotonic()))
                return got

    def expect_eof(self, timeout=5.0):
        """The server must close the TCP connection within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
        except ConnectionResetError:
            return
        except socket.timeout:
            raise AssertionError(f"server did not close the TCP connection within {timeout}s")

    def close(self, code=1000):
        try:
            self.send(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()


NODE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node")


def build_dir():
    """The build directory (--build-dir, else the one --ringcast was built in)."""
    return ARGS.build_dir or os.path.join(os.path.dirname(ARGS.ringcast), "..")


def built(*parts):
    """A program of the build (e.g. "bench", "feed", "ringcast-feed"); SkipTest when it was not built."""
    path = os.path.join(build_dir(), *parts)
    if not os.access(path, os.X_OK):
        raise SkipTest(f"{path} not built")
    return path


class NodeProcess:
    """A tests/node script run by node, talking JSON lines: commands on stdin (cmd()), events
    from stdout into `events` (a line that is not JSON: {"event": "garbage"}; the end:
    {"event": "exit"}). A wss:// url makes node trust tls_files()' certificate too."""

    def __init__(self, script, url, *args):
        env = None
        if url.startswith("wss://"):
            env = dict(os.environ, NODE_EXTRA_CA_CERTS=tls_files()[0])
        self.p = subprocess.Popen(["node", os.path.join(NODE_DIR, script), url, *args], cwd=NODE_DIR,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
        self.events = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "garbage", "line": line})
        self.events.put({"event": "exit"})

    def cmd(self, **kw):
        self.p.stdin.write(json.dumps(kw) + "\n")
        self.p.stdin.flush()

    def stderr(self):
        if self.p.poll() is None:
            return "(running)"
        return self.p.stderr.read()[-1000:]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass


def parse_http_head(head):
    """Status code and lower-cased headers of an HTTP response head (without CRLFCRLF)."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers


def expect_upgrade(sock):
    """Reads an answer head from a raw socket, checks it is a 101, and returns the bytes
    that came after the head (frames the server sent right behind it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        check(chunk, "closed during the handshake")
        data += chunk
    check(data.startswith(b"HTTP/1.1 101"), f"answer {data[:40]!r}")
    return data.partition(b"\r\n\r\n")[2]


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def _xor_fast(payload, key):
    n = len(payload)
    k = int.from_bytes((key * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


# ---------------------------------------------------------------------------------------
# Helpers shared by the integration tests (added after the first harness; the API above
# stays as it was).

def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls `pred` until it returns a truthy value (returned) or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {last!r})")


def check(cond, msg):
    """assert that survives `python -O`."""
    if not cond:
        raise AssertionError(msg)


def is_notice(text):
    """True for a room notice `ID<port> joined` / `ID<port> left`."""
    parts = text.split(" ")
    return len(parts) == 2 and parts[0].startswith("ID") and parts[0][2:].isdigit() \
        and parts[1] in ("joined", "left")


def split_chat(text):
    """`ID<port>: body` -> (`ID<port>`, body); anything else -> (None, text)."""
    name, sep, body = text.partition(": ")
    if sep and name.startswith("ID") and name[2:].isdigit():
        return name, body
    return None, text


def recv_texts_until(client, pred, timeout=10.0, what="message"):
    """Reads text messages until `pred(text)` is true; returns every text read (last one
    included). Fails on close, on a binary message, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{client.name}: no {what} within {timeout}s; got {got[-5:]!r}")
        try:
            text = client.recv_text(timeout=left)
        except socket.timeout:
            raise AssertionError(f"{client.name}: no {what} within {timeout}s; got {got[-5:]!r}")
        got.append(text)
        if pred(text):
            return got


def recv_chat(client, count, timeout=20.0, skip_notices=True):
    """Reads until `count` chat lines (`ID<port>: ...`) arrived; returns them as
    (sender, body) pairs. Room notices are skipped (or kept if skip_notices is False)."""
    deadline = time.monotonic() + timeout
    out = []
    while len(out) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{client.name}: {len(out)} of {count} chat messages in {timeout}s")
        try:
            text = client.recv_text(timeout=left)
        except socket.timeout:
            raise AssertionError(f"{client.name}: {len(out)} of {count} chat messages in {timeout}s")
        if is_notice(text):
            if not skip_notices:
                out.append((None, text))
            continue
        sender, body = split_chat(text)
        check(sender is not None, f"{client.name}: not a chat line: {text[:200]!r}")
        out.append((sender, body))
    return out


def drain(client, quiet=0.3):
    """Reads and returns whatever messages arrive until `quiet` seconds pass without one."""
    got = []
    while True:
        try:
            got.append(client.recv_message(timeout=quiet))
        except socket.timeout:
            return got


def expect_silence(client, seconds=0.5, ignore_notices=False):
    """Nothing (no data message) may arrive within `seconds`."""
    for op, payload in drain(client, seconds):
        if ignore_notices and op == OP_TEXT and is_notice(payload.decode(errors="replace")):
            continue
        raise AssertionError(f"{client.name}: unexpected message {payload[:200]!r}")


def open_clients(port, n, path="/", timeout=10.0):
    """Opens n RawClients (handshake done); closes the ones opened so far on failure."""
    out = []
    try:
        for _ in range(n):
            out.append(RawClient(port, path, timeout=timeout))
    except BaseException:
        close_all(out)
        raise
    return out


def close_all(clients):
    for c in clients:
        try:
            c.sock.close()
        except OSError:
            pass


def parse_metrics(text):
    """Prometheus text -> {"name" or "name{labels}": float}. Fails on a malformed line."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        brace, space = line.find("{"), line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            end = line.find("}")
            check(end != -1, f"malformed metrics line {line!r}")
            key, rest = line[:end + 1], line[end + 1:].split()
        else:
            key, *rest = line.split()
        check(len(rest) in (1, 2), f"malformed metrics line {line!r}")  # value [timestamp]
        try:
            out[key] = float(rest[0])
        except ValueError:
            raise AssertionError(f"malformed metrics value in {line!r}")
    return out


def metrics(server):
    status, headers, body = server.http_get("/metrics")
    check(status == 200, f"/metrics answered {status}")
    return parse_metrics(body.decode())


def metric(m, name):
    """Sum of every series of `name` (with any labels); None if absent."""
    vals = [v for k, v in m.items() if k == name or k.startswith(name + "{")]
    return sum(vals) if vals else None


def raw_socket(port, timeout=5.0, rcvbuf=None, tls=None):
    """A TCP socket to the server; rcvbuf (bytes) is set before connecting. Through
    client_socket(): a TlsSocket where the harness serves wss (tls=None), or as `tls` says."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        s.connect(("127.0.0.1", port))
    except BaseException:
        s.close()
        raise
    return client_socket(s, port, tls)


def http_exchange(port, request, timeout=5.0):
    """Sends raw request bytes; returns (status, headers, body, closed) where `closed` says
    the server closed the connection within `timeout` after its answer."""
    with connect(port, timeout=timeout) as s:
        try:
            s.sendall(request)
        except OSError:
            pass
        data = b""
        closed = False
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
    if b"\r\n\r\n" not in data and not data.startswith(b"HTTP/"):
        raise AssertionError(f"no HTTP answer (got {data[:200]!r}, closed={closed})")
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers = parse_http_head(head)
    return status, headers, body, closed


def accept_key(key):
    import hashlib
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                         .encode()).digest()).decode()


_auto_backend = []


def auto_backend():
    """What --backend auto resolves to on this machine ("uring", or "epoll" where the
    io_uring probe fails); asked of a real ringcast once per test file."""
    if not _auto_backend:
        with Server("--backend", "auto", "--threads", "1") as srv:
            _auto_backend.append(srv.backend())
    return _auto_backend[0]
