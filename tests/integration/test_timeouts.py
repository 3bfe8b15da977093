"""Timers: --handshake-timeout ends connections that never finish the upgrade; --idle-timeout
ends silent clients that do not answer the server's ping, and keeps those that do."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402


def wait_for_end(sock, limit):
    """Reads (discarding) until EOF/RST; returns the seconds it took; fails after `limit`."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"connection still open after {limit}s")
    return time.monotonic() - t0


@test
def handshake_timeout_closes_silent_and_partial_connections():
    with h.Server("--handshake-timeout", "1") as srv:
        silent = h.raw_socket(srv.port)
        partial = h.raw_socket(srv.port)
        partial.sendall(h.RawClient.request("/")[:40])
        took = wait_for_end(silent, 8)
        h.check(took >= 0.5, f"closed after {took:.2f}s, before the 1 s timeout")
        wait_for_end(partial, 8)
        silent.close(), partial.close()
        m = h.metrics(srv)
        h.check(m.get('ringcast_handshake_failures_total{reason="timeout"}', 0) >= 2,
                f"timeouts not counted: { {k: v for k, v in m.items() if 'handshake' in k} }")
        # A normal client is unaffected by the handshake deadline once upgraded.
        c = h.RawClient(srv.port, "/echo")
        time.sleep(1.6)
        c.send_text("still here")
        h.check(c.recv_message(timeout=5) == (h.OP_TEXT, b"still here"), "upgraded client survived")
        c.close()


@test
def idle_timeout_ends_a_client_that_ignores_pings():
    with h.Server("--idle-timeout", "2") as srv:
        c = h.RawClient(srv.port, "/echo")
        t0 = time.monotonic()
        pinged = False
        try:
            while True:
                fin, op, pl = c.recv_frame(timeout=10)  # never answer anything
                if op == h.OP_PING:
                    pinged = True
                if op == h.OP_CLOSE:
                    break
        except (h.ConnectionClosed, ConnectionResetError):
            pass
        except socket.timeout:
            raise AssertionError("idle client not closed within 10 s of a 2 s idle timeout")
        took = time.monotonic() - t0
        h.check(took >= 1.5, f"closed after {took:.1f}s, before the idle timeout")
        h.check(pinged, "no ping before the idle close")
        c.sock.close()


@test
def idle_timeout_keeps_a_client_that_answers_pings():
    with h.Server("--idle-timeout", "2") as srv:
        c = h.RawClient(srv.port, "/echo")
        try:
            deadline = time.monotonic() + 5
            pings = 0
            while time.monotonic() < deadline:
                try:
                    fin, op, pl = c.recv_frame(timeout=max(0.05, deadline - time.monotonic()))
                except socket.timeout:
                    break
                h.check(op != h.OP_CLOSE, f"closed ({h.close_code(pl)}) though it answered pings")
                if op == h.OP_PING:
                    pings += 1
                    c.send(h.OP_PONG, pl)
            h.check(pings >= 1, "no ping within 5 s with a 2 s idle timeout")
            c.send_text("alive")
            h.check(c.recv_message(timeout=5) == (h.OP_TEXT, b"alive"), "echo after 5 s")
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
