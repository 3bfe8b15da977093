#!/usr/bin/python3
"""Soak client mix for scripts/soak.sh: well-behaved clients that check every message
arrives exactly and in order, slow readers, and hostile clients, against one running
ringcast for a fixed time; samples the server's RSS and fd count every second to a CSV.

    /usr/bin/python3 tests/soak/soak_mix.py --port P --pid PID --seconds S --csv FILE

Exit 0 when every check held, 1 otherwise; prints a summary either way.
"""
import argparse
import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from conformance.wire import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, CaseFailure, Conn,  # noqa: E402
                              frame, upgrade_request)

STOP = threading.Event()
PAD = b"p" * 1000  # room messages are big enough to back up slow readers
PAD_TEXT = PAD.decode()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []  # well-behaved clients: loss, reordering, corruption, refusal

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def error(self, msg):
        with self.lock:
            if len(self.errors) < 100:
                self.errors.append(f"{time.strftime('%H:%M:%S')} {msg}")
            self.counts["errors"] = self.counts.get("errors", 0) + 1

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)


S = Stats()


class Client:
    """A Conn with a send lock (a reader thread answers pings while another thread sends)."""

    def __init__(self, port, path, rcvbuf=None, timeout=10.0):
        self.c = Conn(port, timeout)
        if rcvbuf:
            self.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.c.handshake(path)
        self.lock = threading.Lock()

    def send(self, opcode, payload, **kw):
        with self.lock:
            self.c.send_frame(opcode, payload, **kw)

    def recv(self, timeout):
        """Next data message (opcode, payload); answers pings; None on timeout."""
        deadline = time.monotonic() + timeout
        op0, parts = None, []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and not parts:
                return None
            try:
                fin, rsv, op, payload = self.c.recv_frame(max(0.05, left) if not parts else 10.0)
            except CaseFailure as e:
                if "timed out" in str(e) and not parts and not self.c.buf:
                    return None
                raise
            if op == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                raise ConnectionError(f"server closed: {payload[:2].hex()} {payload[2:]!r}")
            if op != 0:
                op0 = op
            parts.append(payload)
            if fin:
                return op0, b"".join(parts)

    def close(self):
        try:
            with self.lock:
                self.c.send_frame(OP_CLOSE, b"\x03\xe8", tolerate_close=True)
        except Exception:  # noqa: BLE001
            pass
        self.c.close_socket()


def echo_client(port, i):
    """Sends sequenced messages to /echo and checks each echo; reconnects every 500."""
    rnd = random.Random(i)
    seq = 0
    while not STOP.is_set():
        try:
            cl = Client(port, "/echo")
        except (OSError, CaseFailure) as e:
            S.error(f"echo{i}: connect/handshake failed: {e}")
            time.sleep(1)
            continue
        try:
            for _ in range(500):
                if STOP.is_set():
                    break
                seq += 1
                op = OP_TEXT if seq % 3 else OP_BINARY
                body = f"echo{i}:{seq}:".encode() + b"x" * rnd.choice([0, 10, 125, 126, 1000, 65536 + 7])
                if rnd.random() < 0.2:  # fragmented
                    half = len(body) // 2
                    cl.send(op, body[:half], fin=False)
                    cl.send(0, body[half:])
                else:
                    cl.send(op, body)
                got = cl.recv(15.0)
                if got != (op, body):
                    S.error(f"echo{i}: message {seq} came back as {got if got is None else (got[0], got[1][:40])}")
                    break
                S.add("echo_ok")
                time.sleep(0.005)
        except (OSError, CaseFailure, ConnectionError) as e:
            if not STOP.is_set():
                S.error(f"echo{i}: {e}")
        finally:
            cl.close()


def room_publisher(port, ready):
    """Publishes `soak:<seq>:<pad>` to the chat room at ~200 messages/s; drains its own copies."""
    try:
        cl = Client(port, "/")
    except (OSError, CaseFailure) as e:
        S.error(f"publisher: connect failed: {e}")
        ready.set()
        return
    name = f"ID{cl.c.sock.getsockname()[1]}"
    ready.name = name
    ready.set()

    def drain():
        while not STOP.is_set():
            try:
                cl.recv(0.5)
            except Exception as e:  # noqa: BLE001
                if not STOP.is_set():
                    S.error(f"publisher reader: {e}")
                return
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    seq = 0
    try:
        while not STOP.is_set():
            seq += 1
            cl.send(OP_TEXT, f"soak:{seq}:".encode() + PAD)
            S.add("published")
            time.sleep(0.005)
    except (OSError, CaseFailure) as e:
        if not STOP.is_set():
            S.error(f"publisher: {e}")
    cl.close()


def room_subscriber(port, i, ready):
    """Reads the room; the publisher's sequence numbers must go up by exactly one."""
    ready.wait(10)
    pub = getattr(ready, "name", None)
    try:
        cl = Client(port, "/")
    except (OSError, CaseFailure) as e:
        S.error(f"sub{i}: connect failed: {e}")
        return
    last = None
    try:
        while not STOP.is_set():
            got = cl.recv(1.0)
            if got is None:
                continue
            text = got[1].decode(errors="replace")
            sender, sep, body = text.partition(": ")
            if not sep or sender != pub or not body.startswith("soak:"):
                continue
            n = int(body.split(":")[1])
            if not body.endswith(PAD_TEXT):
                S.error(f"sub{i}: soak:{n} arrived corrupted ({len(body)} chars)")
            if last is not None and n != last + 1:
                S.error(f"sub{i}: after soak:{last} got soak:{n} (lost or reordered)")
            last = n
            S.add("room_ok")
    except (OSError, CaseFailure, ConnectionError, ValueError) as e:
        if not STOP.is_set():
            S.error(f"sub{i}: {e}")
    cl.close()


def slow_reader(port, i):
    """Joins the room with a tiny receive buffer and reads 1 KiB per 200 ms straight from
    the socket (the room sends far more); the server may drop messages for it or close it
    (slow policy; its close frame then sits behind megabytes in the kernel, so the reader
    rarely sees it). Reconnects when closed and every 30 s."""
    while not STOP.is_set():
        try:
            cl = Client(port, "/", rcvbuf=4096)
        except (OSError, CaseFailure):
            S.add("slow_connect_failed")
            time.sleep(1)
            continue
        sock = cl.c.sock
        sock.settimeout(0.2)
        born = time.monotonic()
        try:
            while not STOP.is_set() and time.monotonic() - born < 30:
                try:
                    if not sock.recv(1024):
                        S.add("slow_closed_by_server")
                        break
                except socket.timeout:
                    pass
                time.sleep(0.2)
        except OSError:
            S.add("slow_closed_by_server")
        cl.c.close_socket()
        S.add("slow_cycles")
        time.sleep(0.5)


def expect_closed(sock, timeout):
    sock.settimeout(timeout)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except (socket.timeout, OSError):
        return False
    return False


def hostile(port, handshake_timeout):
    rnd = random.Random(99)
    kinds = ["garbage", "slowloris", "half-open-burst", "abrupt-mid-frame", "bad-frame", "oversize-head",
             "ping-flood"]
    while not STOP.is_set():
        kind = rnd.choice(kinds)
        try:
            if kind == "garbage":
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3000))) + b"\r\n\r\n")
                    ok = expect_closed(s, 5)
            elif kind == "slowloris":
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    req = upgrade_request("/echo")[0]
                    t0, ok = time.monotonic(), False
                    for b in req[:-4]:
                        try:
                            s.sendall(bytes([b]))
                        except OSError:
                            ok = True
                            break
                        if expect_closed(s, 0.5):
                            ok = True
                            break
                        if time.monotonic() - t0 > handshake_timeout + 5 or STOP.is_set():
                            break
            elif kind == "half-open-burst":
                socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
                for s in socks:
                    s.sendall(b"GET /echo HTTP/1.1\r\n")
                time.sleep(1)
                for s in socks:
                    s.close()
                ok = True
            elif kind == "abrupt-mid-frame":
                c = Conn(port, 5).handshake("/echo")
                c.send(frame(OP_BINARY, b"z" * 10000)[:5000])
                c.close_socket()
                ok = True
            elif kind == "ping-flood":
                # 20,000 pings whose pongs are never read, then vanish.
                c = Conn(port, 5).handshake("/echo")
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.send(frame(OP_PING, b"f" * 125) * 20000, tolerate_close=True)
                c.close_socket()
                ok = True
            elif kind == "bad-frame":
                c = Conn(port, 5).handshake("/echo")
                c.send(frame(OP_TEXT, b"rsv", rsv=4), tolerate_close=True)
                c.expect_close(1002)
                c.close_socket()
                ok = True
            else:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    try:
                        s.sendall(b"GET /echo HTTP/1.1\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n")
                    except OSError:
                        pass
                    ok = expect_closed(s, 5)
        except (OSError, CaseFailure) as e:
            ok = False
            S.add(f"hostile_{kind}_error")
            if S.get(f"hostile_{kind}_error") <= 3:
                print(f"note: hostile {kind}: {e}", file=sys.stderr, flush=True)
        if STOP.is_set() and not ok:
            break  # cut short by the end of the run, not by the server
        S.add(f"hostile_{kind}_{'ok' if ok else 'unexpected'}")
        time.sleep(0.2)


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--csv", required=True)
    p.add_argument("--handshake-timeout", type=float, default=3.0)
    p.add_argument("--echo-clients", type=int, default=4)
    p.add_argument("--subscribers", type=int, default=3)
    p.add_argument("--slow-readers", type=int, default=2)
    a = p.parse_args()

    ready = threading.Event()
    threads = [threading.Thread(target=room_publisher, args=(a.port, ready), daemon=True)]
    threads += [threading.Thread(target=room_subscriber, args=(a.port, i, ready), daemon=True)
                for i in range(a.subscribers)]
    threads += [threading.Thread(target=echo_client, args=(a.port, i), daemon=True) for i in range(a.echo_clients)]
    threads += [threading.Thread(target=slow_reader, args=(a.port, i), daemon=True) for i in range(a.slow_readers)]
    threads.append(threading.Thread(target=hostile, args=(a.port, a.handshake_timeout), daemon=True))
    for t in threads:
        t.start()

    samples = []  # (t, rss_kib, fds)
    died = False
    t0 = time.monotonic()
    with open(a.csv, "w") as csv:
        csv.write("seconds,rss_kib,fds,echo_ok,room_ok,published,errors\n")
        while time.monotonic() - t0 < a.seconds:
            time.sleep(1.0)
            try:
                rss, fds = proc_sample(a.pid)
            except (OSError, StopIteration):
                died = True
                break
            t = time.monotonic() - t0
            samples.append((t, rss, fds))
            csv.write(f"{t:.1f},{rss},{fds},{S.get('echo_ok')},{S.get('room_ok')},{S.get('published')},"
                      f"{S.get('errors')}\n")
            csv.flush()
    STOP.set()
    for t in threads:
        t.join(10)

    failures = []
    if died:
        failures.append("the server died")
    n = len(samples)
    if n >= 4:
        w = 60 if n >= 180 else max(2, n // 4)
        first = sum(s[1] for s in samples[:w]) / w
        last = sum(s[1] for s in samples[-w:]) / w
        fd_first = sum(s[2] for s in samples[:w]) / w
        fd_last = sum(s[2] for s in samples[-w:]) / w
        rss_limit = first * 1.5 + 32 * 1024
        print(f"RSS: first {w}s avg {first / 1024:.1f} MiB, last {w}s avg {last / 1024:.1f} MiB "
              f"(limit {rss_limit / 1024:.1f}), peak {max(s[1] for s in samples) / 1024:.1f} MiB")
        print(f"fds: first {w}s avg {fd_first:.0f}, last {w}s avg {fd_last:.0f}, peak {max(s[2] for s in samples)}")
        if last > rss_limit:
            failures.append(f"RSS grew: last-window avg {last / 1024:.1f} MiB > {rss_limit / 1024:.1f} MiB")
        if fd_last > fd_first * 1.5 + 64:
            failures.append(f"fd count grew: {fd_first:.0f} -> {fd_last:.0f}")
    else:
        failures.append(f"only {n} samples")
    if not died:
        try:
            c = Conn(a.port, 10).handshake("/echo")
            c.send_frame(OP_TEXT, b"final check")
            c.expect_message(OP_TEXT, b"final check")
            c.close_socket()
        except (OSError, CaseFailure) as e:
            failures.append(f"server not serving at the end: {e}")
    if S.get("echo_ok") == 0 or S.get("room_ok") == 0:
        failures.append("well-behaved clients made no progress")
    if S.errors:
        failures.append(f"{S.get('errors')} well-behaved client errors (loss, reordering, refusals)")
    with S.lock:
        counts = dict(sorted(S.counts.items()))
    print("counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    for e in S.errors[:20]:
        print(f"  error: {e}")
    for f in failures:
        print(f"FAIL: {f}")
    print("soak: " + ("FAILED" if failures else "passed") + f" after {n} s of samples; CSV {a.csv}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
