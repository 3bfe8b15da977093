#!/usr/bin/python3
"""Hostile clients: slowloris, thousands of half-open connections, handshake floods,
oversize and garbage requests, clients that never read, clients that vanish, running out
of file descriptors, messages at and over --max-message. The server must answer each the
RFC's way, keep serving everyone else, and give every resource back."""
import os
import random
import resource
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from conformance.wire import OP_BINARY, OP_PING, OP_PONG, OP_TEXT, CaseFailure, Conn, Eof, frame, upgrade_request  # noqa: E402,E501
import conformance.wire  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
if h.TLS:  # RINGCAST_TLS=1: the Conn clients speak wss; the raw-TCP tests skip
    conformance.wire.WRAP = h.TlsSocket
RAW_TCP = ("its hostile bytes go on plain TCP sockets (request bytes without TLS, half-open "
           "and silent connections at the TCP level); test_tls.py covers TLS-level stalls")


def fd_count(srv):
    return len(os.listdir(f"/proc/{srv.proc.pid}/fd"))


def cpu_seconds(srv):
    """utime + stime of the server process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{srv.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def echo_ok(port, payload=b"still serving", timeout=5.0):
    """A fresh client gets through the handshake and an echo within `timeout`."""
    t0 = time.monotonic()
    with Conn(port, timeout) as c:
        c.handshake("/echo")
        c.send_frame(OP_TEXT, payload)
        c.expect_message(OP_TEXT, payload, timeout)
    return time.monotonic() - t0


def wait_eof(sock, timeout):
    """Seconds until the server closes `sock` (reading and dropping anything it sends)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"server did not close the connection within {timeout}s")
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0


def left(deadline, what):
    """Seconds until `deadline`; fails once it has passed (bounds whole loops, not only
    each socket operation, so a broken server cannot stretch a test past its budget)."""
    t = deadline - time.monotonic()
    if t <= 0:
        raise AssertionError(f"{what}: out of time")
    return t


def open_raw(port, n, first_bytes=b"", timeout=20.0):
    """n connections that each sent `first_bytes`, all within `timeout` seconds."""
    socks = []
    deadline = time.monotonic() + timeout
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=min(5.0, left(deadline, f"connection {i} of {n}")))
            if first_bytes:
                s.sendall(first_bytes)
            socks.append(s)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def fd_baseline(srv):
    """The server's fd count once it has served a client and gone quiet again."""
    echo_ok(srv.port)
    last = None
    for _ in range(40):
        n = fd_count(srv)
        if n == last:
            return n
        last = n
        time.sleep(0.25)
    return last


FD_SLACK = 2  # descriptors over the baseline that still count as "back to baseline"


def settle_fds(srv, baseline, timeout=15.0, slack=FD_SLACK):
    return h.wait_until(lambda: fd_count(srv) <= baseline + slack, timeout=timeout,
                        what=f"fd count back to baseline {baseline} (+{slack})")


def answer_pings_while(live, keep_going, wait):
    """Answers the server's pings on `live` while keep_going() holds; returns whether one
    came. Any other frame, or the server closing `live`, fails the test."""
    pinged = False
    while keep_going():
        try:
            fin, rsv, op, payload = live.recv_frame(wait)
        except CaseFailure as e:
            if isinstance(e, Eof):
                raise AssertionError("server closed a client that answers its pings")
            continue
        h.check(op == OP_PING, f"unexpected opcode {op:#x} on an idle connection")
        pinged = True
        live.send_frame(OP_PONG, payload)
    return pinged


@test
def slowloris_handshake_is_cut_at_handshake_timeout():
    h.require_plain_tcp(RAW_TCP)
    with h.Server("--handshake-timeout", "2") as srv:
        req, _ = upgrade_request("/echo")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        t0 = time.monotonic()
        closed_at = None
        try:
            for b in req[:-4]:  # never completes: one byte per second
                s.sendall(bytes([b]))
                s.settimeout(1.0)
                try:
                    data = s.recv(4096)
                    if not data:
                        closed_at = time.monotonic() - t0
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed_at = time.monotonic() - t0
                    break
                if time.monotonic() - t0 > 12:
                    break
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic() - t0
        finally:
            s.close()
        h.check(closed_at is not None, "a handshake trickled at 1 byte/s was not cut within 12 s "
                                       "(--handshake-timeout 2)")
        h.check(closed_at >= 1.5, f"cut after {closed_at:.2f}s, before --handshake-timeout 2")
        echo_ok(srv.port)


@test
def two_thousand_half_open_connections_do_not_block_a_new_client():
    h.require_plain_tcp(RAW_TCP)
    with h.Server("--handshake-timeout", "30") as srv:
        base = fd_baseline(srv)
        socks = open_raw(srv.port, 2000, b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg")
        try:
            dt = echo_ok(srv.port, timeout=10.0)
            h.check(dt < 5.0, f"a new client took {dt:.2f}s with 2000 half-open connections")
        finally:
            for s in socks:
                s.close()
        settle_fds(srv, base)
        echo_ok(srv.port)


@test
def handshake_flood_then_fds_back_to_baseline():
    h.require_plain_tcp(RAW_TCP)
    with h.Server() as srv:
        base = fd_baseline(srv)
        socks = []
        try:
            deadline = time.monotonic() + 30.0
            for i in range(2000):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=min(5.0, left(deadline, f"flood {i}")))
                s.sendall(upgrade_request("/echo")[0])
                socks.append(s)
            upgraded = 0
            for i, s in enumerate(socks):
                data = b""
                while b"\r\n\r\n" not in data:
                    s.settimeout(min(5.0, left(deadline, f"101 for flood {i} ({upgraded} so far)")))
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                upgraded += data.startswith(b"HTTP/1.1 101")
            h.check(upgraded == 2000, f"only {upgraded} of 2000 flooded handshakes got 101")
        finally:
            for s in socks:  # abrupt: no close frame
                s.close()
        settle_fds(srv, base)
        h.check(srv.proc.poll() is None, "server died")
        echo_ok(srv.port)


@test
def oversize_headers_get_431_and_close():
    h.require_plain_tcp(RAW_TCP)
    with h.Server() as srv:
        req, _ = upgrade_request("/echo", {"X-Pad": "p" * 20000})
        status, _, _, closed = h.http_exchange(srv.port, req)
        h.check(status == 431, f"20 KB header: {status}, wanted 431")
        h.check(closed, "server kept the connection open after 431")
        # A head that never ends: the server must stop reading at its limit, answer 431, close.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            sent, answer = 0, b""
            s.settimeout(0.2)
            while sent < (4 << 20) and not answer:
                try:
                    s.sendall(b"X-Endless: " + b"e" * 1000 + b"\r\n")
                    sent += 1013
                except (BrokenPipeError, ConnectionResetError):
                    break
                except socket.timeout:
                    break
                try:
                    answer = s.recv(4096, socket.MSG_DONTWAIT)
                except (BlockingIOError, socket.timeout):
                    pass
                except ConnectionResetError:
                    break
            if not answer:
                s.settimeout(5)
                try:
                    answer = s.recv(4096)
                except ConnectionResetError:
                    answer = b""
            h.check(answer.startswith(b"HTTP/1.1 431"), f"endless headers: got {answer[:60]!r} after {sent} bytes")
            h.check(sent < (1 << 20), f"server read {sent} header bytes before answering 431")
        finally:
            s.close()
        echo_ok(srv.port)


@test
def garbage_instead_of_http_gets_400_and_close():
    h.require_plain_tcp(RAW_TCP)
    with h.Server() as srv:
        rnd = random.Random(7)
        inputs = [
            bytes(rnd.randrange(256) for _ in range(2048)),
            b"\x00" * 512,
            b"SSH-2.0-OpenSSH_9.2\r\n",
            b"\x88\x80\x00\x00\x00\x00",  # a WebSocket close frame before any handshake
        ]
        bad = []
        for data in inputs:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            t0 = time.monotonic()
            got = b""
            try:
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    bad.append(f"{data[:12]!r}...: no answer and no close within 5 s (got {got[:40]!r})")
                    continue
                if not got.startswith(b"HTTP/1.1 400"):
                    bad.append(f"{data[:12]!r}...: closed after {time.monotonic() - t0:.1f}s with {got[:40]!r}, "
                               "wanted a 400")
            finally:
                s.close()
        h.check(not bad, "garbage instead of a request:\n  " + "\n  ".join(bad))
        echo_ok(srv.port)


@test
def clients_that_never_read_keep_rss_bounded():
    """20 clients stream 16 KiB messages to /echo and never read the echoes; with
    --max-backlog 64 KiB the server must bound what it holds for them (close them, or stop
    reading from them) instead of buffering everything."""
    n_clients, msg, per_client = 20, 16 << 10, 16 << 20  # echoes smaller than the backlog queue up
    with h.Server("--max-backlog", str(64 << 10), "--max-message", str(1 << 20)) as srv:
        echo_ok(srv.port)
        rss0 = srv.rss_kib()
        conns = [Conn(srv.port, 10.0).handshake("/echo") for _ in range(n_clients)]
        for c in conns:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sent = [0] * n_clients
        peak = [rss0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], srv.rss_kib())
                except OSError:
                    return
                time.sleep(0.1)

        def flood(i):
            wire = frame(OP_BINARY, os.urandom(msg))
            c = conns[i]
            c.sock.settimeout(3.0)
            try:
                while sent[i] < per_client:
                    c.sock.sendall(wire)
                    sent[i] += msg
            except OSError:  # blocked (server stopped reading) or closed (slow policy)
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        time.sleep(0.5)
        stop.set()
        sampler.join(2)
        for c in conns:
            c.close_socket()
        total = sum(sent)
        grow_mib = (peak[0] - rss0) / 1024
        bound = 64 + n_clients * 3  # MiB: a message being assembled + backlog each, generous
        print(f"  never-read: {total >> 20} MiB sent, RSS {rss0 >> 10} -> peak {peak[0] >> 10} MiB", flush=True)
        h.check(srv.proc.poll() is None, "server died")
        h.check(grow_mib < bound, f"RSS grew by {grow_mib:.0f} MiB (bound {bound} MiB) for clients that never read")
        echo_ok(srv.port, timeout=10.0)


@test
def silent_connection_is_cut_at_handshake_timeout():
    """A client that connects and sends nothing at all is closed at --handshake-timeout."""
    h.require_plain_tcp(RAW_TCP)
    with h.Server("--handshake-timeout", "2") as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            dt = wait_eof(s, 12.0)
        finally:
            s.close()
        h.check(1.5 <= dt, f"silent connection cut after {dt:.2f}s, before --handshake-timeout 2")
        echo_ok(srv.port)


@test
def ping_flood_without_reading_pongs_keeps_rss_bounded():
    """Pongs the client never reads must count against its backlog like any other frame."""
    with h.Server("--max-backlog", str(64 << 10)) as srv:
        echo_ok(srv.port)
        rss0 = srv.rss_kib()
        c = Conn(srv.port, 10.0).handshake("/echo")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ping = frame(OP_PING, b"p" * 125)
        batch = ping * 1000
        sent, peak = 0, rss0
        c.sock.settimeout(3.0)
        try:
            while sent < 400_000:  # 400k pings: ~52 MB of pongs if nothing bounded them
                c.sock.sendall(batch)
                sent += 1000
                if sent % 20000 == 0:
                    peak = max(peak, srv.rss_kib())
        except OSError:  # the server stopped reading from us or closed us: both bound memory
            pass
        peak = max(peak, srv.rss_kib())
        c.close_socket()
        grow_mib = (peak - rss0) / 1024
        print(f"  ping flood: {sent} pings sent, RSS {rss0 >> 10} -> peak {peak >> 10} MiB", flush=True)
        h.check(srv.proc.poll() is None, "server died")
        h.check(grow_mib < 40, f"RSS grew by {grow_mib:.0f} MiB under a ping flood whose pongs are never read")
        echo_ok(srv.port)


@test
def vanished_clients_are_pinged_and_reclaimed():
    with h.Server("--idle-timeout", "2") as srv:
        base = fd_baseline(srv)
        ghosts = [Conn(srv.port, 10.0).handshake("/echo") for _ in range(20)]
        for g in ghosts[::2]:  # half of them vanish in the middle of a frame
            g.send(frame(OP_TEXT, b"half a frame", fin=False)[:8])
        live = Conn(srv.port, 10.0).handshake("/echo")
        try:
            h.check(fd_count(srv) >= base + 20, "server does not hold the ghosts' sockets")
            # The live client answers pings; the ghosts never read or write again.
            t0 = time.monotonic()
            pinged = answer_pings_while(live, lambda: time.monotonic() - t0 < 6.0, wait=0.5)
            h.check(pinged, "no ping within 6 s on an idle connection with --idle-timeout 2")
            # Ghosts: a ping then a close (or just a close) arrived, and the fds are gone. The
            # live client keeps answering pings meanwhile: a slow machine (sanitizers, a busy
            # neighbour) may take longer than its 2 s idle budget to reclaim them.
            deadline = time.monotonic() + 10.0
            answer_pings_while(live, lambda: fd_count(srv) > base + 1 + FD_SLACK
                               and time.monotonic() < deadline, wait=0.2)
            settle_fds(srv, base + 1, timeout=1.0)
            live.send_frame(OP_TEXT, b"alive")
            while True:  # the server may ping again before it echoes
                fin, rsv, op, payload = live.recv_frame(5.0)
                if op == OP_PING:
                    live.send_frame(OP_PONG, payload)
                    continue
                h.check((op, payload) == (OP_TEXT, b"alive"), f"live client got {op:#x} {payload[:40]!r}")
                break
            for g in ghosts:
                g.sock.settimeout(2.0)
                got = b""
                try:
                    while True:
                        chunk = g.sock.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                except ConnectionResetError:
                    pass
                h.check(got[:1] == bytes([0x80 | OP_PING]), f"ghost: first frame was not a ping: {got[:8]!r}")
        finally:
            for g in ghosts:
                g.close_socket()
            live.close_socket()


@test
def fifty_concurrent_clients_each_get_exactly_their_own_echoes():
    """50 clients pipeline random messages (up to 300 KB, some fragmented) at once, so
    receive buffers run short and frames of different clients interleave in the server;
    each must get back exactly its own bytes, in order."""
    with h.Server() as srv:
        errors = []

        def client(i):
            rnd = random.Random(i)
            msgs = []
            for k in range(40):
                n = rnd.choice([0, 1, 125, 126, 4000, 65536, 300000]) if k % 8 == 0 else rnd.randint(0, 3000)
                op = rnd.choice([OP_TEXT, OP_BINARY])
                body = (f"c{i}m{k}:".encode() + bytes([97 + (i + j) % 26 for j in range(n)]))
                msgs.append((op, body))
            wire = b""
            for op, body in msgs:
                if len(body) > 10 and rnd.random() < 0.3:
                    cut = rnd.randint(1, len(body) - 1)
                    wire += frame(op, body[:cut], fin=False) + frame(0, body[cut:])
                else:
                    wire += frame(op, body)
            try:
                with Conn(srv.port, 20.0) as c:
                    c.handshake("/echo")
                    c.send_background(wire)
                    for op, body in msgs:
                        c.expect_message(op, body, 20.0)
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(f"client {i}: {e}")

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        h.check(not any(t.is_alive() for t in threads), "clients still running after 60 s")
        h.check(not errors, f"{len(errors)} clients failed: " + "; ".join(errors[:5]))


@test
def fd_exhaustion_does_not_spin_and_recovers():
    h.require_plain_tcp(RAW_TCP)
    limit = 64

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with h.Server("--threads", "1", preexec_fn=low_nofile) as srv:
        echo_ok(srv.port)
        socks = []
        try:
            deadline = time.monotonic() + 20.0
            for i in range(limit * 2):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=min(5.0, left(deadline, f"connection {i}")))
                s.sendall(upgrade_request("/echo")[0])
                socks.append(s)
            time.sleep(1.0)
            c0 = cpu_seconds(srv)
            time.sleep(2.0)
            used = cpu_seconds(srv) - c0
            h.check(srv.proc.poll() is None, f"server died at the fd limit: {srv.log()[-500:]}")
            h.check(used < 0.6, f"server used {used:.2f}s CPU in 2 s at the fd limit (spinning on EMFILE?)")
        finally:
            for s in socks:
                s.close()
        h.wait_until(lambda: _try_echo(srv.port), timeout=15.0, what="service after connections closed")


def _try_echo(port):
    try:
        echo_ok(port, timeout=3.0)
        return True
    except (OSError, AssertionError):
        return False


@test
def max_message_at_and_one_over():
    limit = 65536
    with h.Server("--max-message", str(limit)) as srv:
        for op in (OP_TEXT, OP_BINARY):
            with Conn(srv.port, 10.0) as c:
                c.handshake("/echo")
                data = b"a" * limit
                c.send_frame(op, data)
                c.expect_message(op, data)
                c.send_frame(op, data[:limit // 2], fin=False)
                c.send_frame(0, data[limit // 2:])
                c.expect_message(op, data)
            with Conn(srv.port, 10.0) as c, Conn(srv.port, 10.0) as bystander:
                c.handshake("/echo")
                bystander.handshake("/echo")
                c.send_background(frame(op, b"a" * (limit + 1)))
                c.expect_close(1009, 10.0)
                bystander.send_frame(op, b"unaffected")
                bystander.expect_message(op, b"unaffected")
            with Conn(srv.port, 10.0) as c:
                c.handshake("/echo")
                c.send_background(frame(op, b"a" * limit, fin=False) + frame(0, b"b"))
                c.expect_close(1009, 10.0)


if __name__ == "__main__":
    h.main()
