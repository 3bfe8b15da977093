"""The I/O backend choice (--backend auto|uring|epoll) where io_uring is refused.

tests/no_uring (tests/support/no_uring.cpp) runs ringcast under a seccomp filter that makes
the io_uring system calls fail with EPERM, as Docker's default profile does, or ENOSYS, as
a kernel without io_uring does. There the default (auto) logs one line naming the cause and
serves everything on epoll; --backend uring exits 1 with that cause and listens on nothing.
Without the filter, --backend epoll runs epoll and auto runs io_uring (where this machine
allows it)."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

# This file picks every backend itself: RINGCAST_BACKEND (the suite-wide choice) must not
# add a flag to the servers it starts.
h.BACKEND = None

CAUSES = {
    "EPERM": "cannot set up io_uring: EPERM (disabled by sysctl kernel.io_uring_disabled or a seccomp policy)",
    "ENOSYS": "cannot set up io_uring: ENOSYS (the kernel has no io_uring support)",
}
FALLBACK = "; using the epoll backend"

# Calls io_uring_setup with valid arguments, and io_uring_enter / io_uring_register on fd -1
# (which the kernel rejects with its own errno), then a plain socket call; prints what
# each io_uring call returned.
PROBE = r"""
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
out = []
for nr, args in ((425, (1, params)), (426, (-1, 0, 0, 0, None, 0)), (427, (-1, 0, None, 0))):
    rc = libc.syscall(nr, *args)
    out.append("ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()])
socket.socket().close()
print(" ".join(out))
"""

_launcher_checked = set()


def no_uring():
    build = h.ARGS.build_dir or os.path.join(os.path.dirname(h.ARGS.ringcast), "..")
    path = os.path.join(build, "tests", "no_uring")
    h.check(os.access(path, os.X_OK), f"{path} is not built (target no_uring)")
    return path


def probe(*wrapper):
    p = subprocess.run([*wrapper, sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def wrapper(err):
    """[no_uring, err], once no_uring has shown that it refuses exactly io_uring here
    (skips where seccomp filters cannot be installed at all)."""
    cmd = [no_uring(), err]
    if err not in _launcher_checked:
        rc, out, log = probe(*cmd)
        if rc == 1 and "cannot install the seccomp filter" in log:
            raise h.SkipTest(log)
        h.check(rc == 0, f"probe under no_uring {err}: exit {rc}: {log}")
        h.check(out == f"{err} {err} {err}", f"no_uring {err}: setup/enter/register gave {out!r}")
        _launcher_checked.add(err)
    return cmd


def lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


def serves_everything(srv):
    """Chat (two raw clients, each sees the other's line), /echo (text and binary, one of
    them large enough to take many receive buffers and partial sends), /healthz."""
    a, b = h.open_clients(srv.port, 2, "/room")
    try:
        a.send_text("from a")
        h.check(h.recv_chat(b, 1) == [(a.name, "from a")], f"{b.name} did not get a's line")
        h.check(h.recv_chat(a, 1) == [(a.name, "from a")], f"{a.name} did not get its own line")
        b.send_text("from b")
        h.check(h.recv_chat(a, 1) == [(b.name, "from b")], f"{a.name} did not get b's line")
        h.check(h.recv_chat(b, 1) == [(b.name, "from b")], f"{b.name} did not get its own line")
    finally:
        h.close_all([a, b])
    e = h.RawClient(srv.port, "/echo")
    try:
        e.send_text("é" * 1000)
        h.check(e.recv_message(timeout=5) == (h.OP_TEXT, ("é" * 1000).encode()), "text echo")
        blob = os.urandom(300_000)
        e.send(h.OP_BINARY, blob)
        h.check(e.recv_message(timeout=10) == (h.OP_BINARY, blob), "binary echo of 300 kB")
        e.close()
    finally:
        e.sock.close()
    status, _, body = srv.http_get("/healthz")
    h.check((status, body) == (200, b"ok\n"), f"/healthz: {status} {body!r}")


@test
def no_uring_refuses_the_three_io_uring_calls_and_nothing_else():
    for err in ("EPERM", "ENOSYS"):
        wrapper(err)  # setup, enter and register answer err; python and a socket still work
    # Unfiltered, enter and register on fd -1 reach the kernel (EBADF, or EINVAL for a
    # register without a ring): the filter, not the arguments, produced the answers above.
    rc, out, log = probe()
    if out == "ENOSYS ENOSYS ENOSYS":
        raise h.SkipTest("this kernel has no io_uring: the filter's answers cannot be told from its own")
    h.check(rc == 0 and len(out.split()) == 3 and not {"EPERM", "ENOSYS"} & set(out.split()[1:]),
            f"unfiltered probe: exit {rc}, {out!r} {log}")
    p = subprocess.run([no_uring(), "EACCES", "true"], capture_output=True, text=True, timeout=10)
    h.check(p.returncode == 2 and len(lines(p.stderr)) == 1, f"no_uring EACCES: exit {p.returncode} {p.stderr!r}")
    p = subprocess.run([no_uring(), "EPERM", "/nonexistent/program"], capture_output=True, text=True, timeout=10)
    h.check(p.returncode == 127, f"no_uring with a missing program: exit {p.returncode} {p.stderr!r}")


def auto_falls_back(err):
    with h.Server("--threads", "2", wrapper=wrapper(err)) as srv:
        h.check(srv.backend() == "epoll", f"listening line: {srv.log()!r}")
        serves_everything(srv)
        log = lines(srv.log())
        fallback = [ln for ln in log if FALLBACK in ln]
        h.check(fallback == [f"ringcast: {CAUSES[err]}{FALLBACK}"], f"fallback lines {fallback!r} in {log!r}")
        uring = [ln for ln in log if "io_uring" in ln]
        h.check(uring == fallback, f"other lines about io_uring: {uring!r}")


@test
def auto_under_eperm_logs_the_cause_and_serves_on_epoll():
    auto_falls_back("EPERM")


@test
def auto_under_enosys_logs_the_cause_and_serves_on_epoll():
    auto_falls_back("ENOSYS")


def uring_refused(err):
    port = h.free_port()
    cmd = [*wrapper(err), h.ARGS.ringcast, "--host", "127.0.0.1", "--port", str(port), "--backend", "uring"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # It must not listen even for a moment: connect until it has exited.
        deadline = time.monotonic() + 10
        while p.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.005)
                continue
            raise AssertionError(f"--backend uring under {err}: port {port} accepted a connection")
        rc = p.wait(5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, log = p.stdout.read().decode(errors="replace"), p.stderr.read().decode(errors="replace")
    p.stdout.close()
    p.stderr.close()
    h.check(rc == 1, f"--backend uring under {err}: exit {rc}, want 1 (stderr {log!r})")
    h.check(log == f"ringcast: {CAUSES[err]}\n", f"--backend uring under {err}: stderr {log!r}")
    h.check(out == "", f"stdout {out!r}")


@test
def backend_uring_under_eperm_exits_1_naming_eperm():
    uring_refused("EPERM")


@test
def backend_uring_under_enosys_exits_1_naming_enosys():
    uring_refused("ENOSYS")


@test
def backend_epoll_never_touches_io_uring():
    # Under the filter, --backend epoll does not even probe: no line about io_uring.
    with h.Server("--backend", "epoll", wrapper=wrapper("EPERM")) as srv:
        h.check(srv.backend() == "epoll", f"listening line: {srv.log()!r}")
        serves_everything(srv)
        h.check("io_uring" not in srv.log(), f"log: {srv.log()!r}")


@test
def backend_epoll_without_seccomp_runs_epoll():
    with h.Server("--backend", "epoll") as srv:
        h.check(srv.backend() == "epoll", f"listening line: {srv.log()!r}")
        serves_everything(srv)
        h.check(FALLBACK not in srv.log(), f"log: {srv.log()!r}")


@test
def auto_and_uring_without_seccomp_run_io_uring():
    with h.Server() as srv:
        got = srv.backend()
        fallback = [ln for ln in lines(srv.log()) if FALLBACK in ln]
        if fallback:
            h.check(got == "epoll", f"fell back ({fallback}) but runs {got}")
            raise h.SkipTest(f"this machine's io_uring probe fails: {fallback[0]}")
        h.check(got == "uring", f"auto without a filter runs {got}: {srv.log()!r}")
        serves_everything(srv)
    with h.Server("--backend=uring") as srv:
        h.check(srv.backend() == "uring", f"listening line: {srv.log()!r}")
        serves_everything(srv)


@test
def bogus_backend_exits_2_with_one_line():
    for flag in (["--backend", "bogus"], ["--backend=EPOLL"], ["--backend=io_uring"], ["--backend="]):
        value = flag[-1].partition("=")[2] if len(flag) == 1 else flag[1]
        p = subprocess.run([h.ARGS.ringcast, "--port", str(h.free_port()), *flag],
                           capture_output=True, text=True, timeout=10)
        h.check(p.returncode == 2, f"{flag}: exit {p.returncode} ({p.stderr!r})")
        h.check(p.stderr == f"ringcast: invalid value '{value}' for --backend (auto, uring or epoll) (see --help)\n",
                f"{flag}: stderr {p.stderr!r}")


if __name__ == "__main__":
    h.main()
