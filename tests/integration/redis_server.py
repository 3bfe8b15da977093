"""A real redis-server for the broker tests (Debian's, installed by scripts/setup.sh
--test), started on 127.0.0.1:<free port> with no persistence, and a few RESP commands
sent to it by hand (the tests ask Redis what ringcast did: PUBSUB NUMSUB, ...), and a
relay that cuts or stalls one node's links to it."""
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import harness as h


def require_redis():
    if shutil.which("redis-server") is None:
        raise h.SkipTest("redis-server is missing (scripts/setup.sh --test installs it)")


class Redis:
    """redis-server on a free port; stop() and start() again keep the port (a restart)."""

    def __init__(self):
        require_redis()
        self.port = h.free_port()
        self.dir = tempfile.mkdtemp(prefix="ringcast-redis-")
        self.proc = None
        self.log = tempfile.TemporaryFile(mode="w+b")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError(f"redis-server exited with {self.proc.returncode}: {self.log.read()[-2000:]}")
            try:
                if self.command("PING") == "PONG":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def command(self, *args, timeout=5.0):
        return command(self.port, *args, timeout=timeout)

    def numsub(self, channel):
        return numsub(self.port, channel)


def command(port, *args, timeout=5.0):
    """One command's reply from the Redis on `port`: str, int, None, or a list of them
    (errors raise)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _Reader(s).value()


def numsub(port, channel):
    """How many connections subscribe to `channel` (ringcast's nodes' feeds)."""
    return int(command(port, "PUBSUB", "NUMSUB", channel)[1])


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def value(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.value() for _ in range(n)]
        raise AssertionError(f"redis: unexpected reply {line!r}")


class Relay:
    """A TCP relay in front of the Redis on `port`, for a partition between one node and
    Redis: cut() closes every relayed connection and refuses new ones until mend();
    stall(kind) stops passing bytes either way on that kind of link (they wait, unread)
    until flow(kind). A link's kind is what it first sends past its PING: "commands" (a
    command link loads its scripts) or "feed" (SUBSCRIBE); None: every link."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Condition()
        self.pairs = []
        self.cut_off = False
        self.stalled = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        self.flow()
        self.listener.close()
        self.cut()

    def cut(self):
        with self.lock:
            self.cut_off = True
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair["socks"]:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def mend(self):
        with self.lock:
            self.cut_off = False

    def stall(self, kind=None):
        with self.lock:
            self.stalled.add(kind)

    def flow(self, kind=None):
        with self.lock:
            self.stalled.discard(kind)
            self.lock.notify_all()

    def _wait_flowing(self, pair):
        with self.lock:
            while not self.closed and (None in self.stalled or pair["kind"] in self.stalled):
                self.lock.wait()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                refused = self.cut_off
            if refused:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = {"socks": (client, upstream), "kind": None}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, upstream, client), daemon=True).start()

    def _pump(self, pair, src, dst):
        try:
            while True:
                self._wait_flowing(pair)
                data = src.recv(65536)
                if not data:
                    break
                if pair["kind"] is None and src is pair["socks"][0]:
                    with self.lock:  # after the link's first PING
                        pair["kind"] = "commands" if b"SCRIPT" in data else "feed" if b"SUBSCRIBE" in data else None
                self._wait_flowing(pair)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
