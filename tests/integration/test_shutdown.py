"""Graceful shutdown: on SIGTERM or SIGINT every client gets close 1001 and the process
exits 0 within a few seconds."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402


def shutdown_with_clients(sig, *args):
    srv = h.Server(*args)
    srv.start()
    clients = []
    try:
        clients = h.open_clients(srv.port, 6) + h.open_clients(srv.port, 2, "/echo") \
            + h.open_clients(srv.port, 2, "/other")
        clients[0].send_text("before shutdown")
        h.recv_chat(clients[0], 1)
        t0 = time.monotonic()
        srv.proc.send_signal(sig)
        for c in clients:
            c.expect_close(1001, timeout=8)
            c.sock.close()
        rc = srv.proc.wait(10)
        took = time.monotonic() - t0
        h.check(rc == 0, f"exit code {rc} after {sig!r}; stderr: {srv.log()[-500:]}")
        h.check(took < 8, f"took {took:.1f}s to shut down")
    finally:
        h.close_all(clients)
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@test
def sigterm_closes_every_client_with_1001_and_exits_0():
    shutdown_with_clients(signal.SIGTERM)


@test
def sigint_closes_every_client_with_1001_and_exits_0():
    shutdown_with_clients(signal.SIGINT)


@test
def sigterm_with_two_shards():
    shutdown_with_clients(signal.SIGTERM, "--threads", "2")


@test
def idle_server_exits_0_promptly():
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = h.Server()
        srv.start()
        t0 = time.monotonic()
        rc = srv.stop(sig, timeout=10)
        h.check(rc == 0, f"exit code {rc} after {sig!r}: {srv.log()[-500:]}")
        h.check(time.monotonic() - t0 < 5, "idle shutdown took over 5 s")


@test
def shutdown_does_not_wait_for_a_client_that_never_answers_the_close():
    # The client ignores the 1001 and keeps the socket open: the server must still exit.
    srv = h.Server()
    srv.start()
    try:
        c = h.RawClient(srv.port)
        mute = h.RawClient(srv.port, rcvbuf=4096)  # never reads at all
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        while True:
            fin, op, pl = c.recv_frame(timeout=8)
            if op == h.OP_CLOSE:
                h.check(h.close_code(pl) == 1001, f"close {h.close_code(pl)}")
                break
        rc = srv.proc.wait(15)  # no close reply from c, nothing read by mute
        h.check(rc == 0, f"exit code {rc}")
        h.check(time.monotonic() - t0 < 12, "shutdown hung on unresponsive clients")
        h.close_all([c, mute])
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@test
def exit_is_prompt_once_every_client_has_closed():
    # The drain deadline (5 s) is for clients that do not answer. Clients that answer the
    # close, see the server's TCP close and close their socket (as browsers, websockets
    # and ws do) leave nothing to wait for.
    srv = h.Server()
    srv.start()
    clients = []
    try:
        clients = h.open_clients(srv.port, 3) + h.open_clients(srv.port, 2, "/echo")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.expect_close(1001, timeout=8)  # answers the close, then sees the TCP close
            c.sock.close()
        rc = srv.proc.wait(10)
        took = time.monotonic() - t0
        h.check(rc == 0, f"exit code {rc}")
        h.check(took < 2.5, f"exited {took:.1f}s after SIGTERM though every client had closed")
    finally:
        h.close_all(clients)
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@test
def connection_refused_after_shutdown():
    # Refused outright, every time: a listener an io_uring accept still held would outlive
    # the process for a moment, take the connection and then reset it (and, in a
    # SO_REUSEPORT group, steal it from the next process on the port).
    for _ in range(5):
        srv = h.Server("--threads", "2")
        srv.start()
        h.check(srv.stop() == 0, "exit code")
        try:
            h.socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        except ConnectionRefusedError:
            continue
        raise AssertionError("a connection was accepted after exit")


if __name__ == "__main__":
    h.main()
