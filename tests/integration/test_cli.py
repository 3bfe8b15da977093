"""The command line: --help lists every flag and exits 0, --version, and a bad flag or
value gives exactly one line `ringcast: ... (see --help)` on stderr and exit code 2."""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

FLAGS = ["--host", "--port", "--threads", "--max-message", "--max-backlog", "--slow-policy",
         "--idle-timeout", "--handshake-timeout", "--announce", "--coalesce", "--pin", "--backend", "--log-level", "--simd",
         "--tls-cert", "--tls-key", "--tls-port", "--tls-ciphers", "--tls-ciphersuites", "--config", "--demo-sdk", "--help", "--version"]


def run(*args, timeout=10):
    # RINGCAST_BACKEND's flag goes first, so a flag missing its value stays the last word.
    p = subprocess.run([h.ARGS.ringcast, *h.backend_args(args), *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


@test
def help_lists_every_flag_and_exits_0():
    rc, out, err = run("--help")
    h.check(rc == 0, f"--help exit {rc}: {err}")
    for flag in FLAGS:
        h.check(flag in out, f"--help does not mention {flag}:\n{out}")
    for value in ("close", "drop", "on|off", "auto|uring|epoll", "scalar", "avx2", "error", "debug"):
        h.check(value in out, f"--help does not list the value {value!r}")
    h.check(err == "", f"--help wrote to stderr: {err!r}")


@test
def version_prints_one_line_and_exits_0():
    rc, out, err = run("--version")
    h.check(rc == 0, f"--version exit {rc}: {err}")
    lines = out.strip().splitlines()
    h.check(len(lines) == 1 and "ringcast" in lines[0] and any(ch.isdigit() for ch in lines[0]),
            f"--version printed {out!r}")


BAD = [
    ["--bogus"],
    ["--port"],                      # missing value
    ["--port", "abc"],
    ["--port", "70000"],
    ["--port", "-1"],
    ["--threads", "abc"],
    ["--threads", "-2"],
    ["--max-message", "lots"],
    ["--max-message", "-5"],
    ["--max-backlog", "x"],
    ["--slow-policy", "maybe"],
    ["--idle-timeout", "soon"],
    ["--handshake-timeout", "-1"],
    ["--log-level", "loud"],
    ["--simd", "mmx"],
    ["--host", "not an address"],
    ["positional"],
    ["--max-message", "10X"],
    ["--idle-timeout", "5 parsecs"],
    ["--threads=abc"],
    ["--announce", "maybe"],
    ["--announce", "ON"],
    ["--announce=1"],
    ["--announce"],                  # missing value
    ["--coalesce", "fast"],
    ["--coalesce", "11s"],           # above the 10 s cap
    ["--coalesce", "-5ms"],
    ["--pin", "1"],
    ["--backend", "bogus"],
    ["--backend", "EPOLL"],
    ["--backend=io_uring"],
    ["--backend"],                   # missing value
    ["--tls-cert", "c.pem"],         # without --tls-key
    ["--tls-key", "k.pem"],          # without --tls-cert
    ["--tls-port", "9443"],          # without a certificate
    ["--tls-ciphers", "HIGH"],       # without a certificate
    ["--tls-port", "99999", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
    ["--tls-cert="],
]


@test
def bad_flags_and_values_exit_2_with_one_line():
    for args in BAD:
        # A free port so that a wrongly accepted argument list starts a server we can spot.
        port = str(h.free_port())
        full = ["--port", port, *args] if args[0] != "--port" else args
        try:
            rc, out, err = run(*full, timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{full}: accepted (the server started and kept running)")
        lines = err.splitlines()
        h.check(rc == 2, f"{full}: exit {rc}, want 2 (stderr {err!r})")
        h.check(len(lines) == 1, f"{full}: {len(lines)} stderr lines: {err!r}")
        h.check(lines[0].startswith("ringcast: ") and lines[0].endswith("(see --help)"),
                f"{full}: stderr line {lines[0]!r}")


@test
def bad_choice_values_name_the_flag_and_the_choices():
    for flag, value, choices in (("--announce", "sometimes", "on or off"),
                                 ("--backend", "kqueue", "auto, uring or epoll")):
        rc, out, err = run("--port", str(h.free_port()), flag, value, timeout=5)
        h.check(rc == 2, f"{flag} {value}: exit {rc}")
        h.check(err == f"ringcast: invalid value '{value}' for {flag} ({choices}) (see --help)\n",
                f"{flag} {value}: stderr {err!r}")


@test
def every_documented_value_is_accepted():
    good = [["--slow-policy", "close"], ["--slow-policy", "drop"], ["--log-level", "error"],
            ["--log-level", "warn"], ["--log-level", "info"], ["--log-level", "debug"],
            ["--simd", "scalar"], ["--simd", "sse2"], ["--threads", "1"], ["--threads", "2"],
            ["--max-message", "100000"], ["--max-backlog", "65536"], ["--idle-timeout", "30"],
            ["--handshake-timeout", "5"],
            # --help: SIZE takes k/M/G, DURATION ms/s/m, and "--flag=value" works too.
            ["--max-message", "64k"], ["--max-backlog", "2M"], ["--idle-timeout", "1m"],
            ["--handshake-timeout", "1500ms"], ["--threads=2"], ["--slow-policy=drop"],
            ["--announce", "on"], ["--announce", "off"], ["--announce=off"],
            ["--coalesce", "0"], ["--coalesce", "20ms"], ["--coalesce=1s"], ["--coalesce", "auto"],
            ["--pin", "on"], ["--pin=off"], ["--backend", "auto"], ["--backend=epoll"]]
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if " avx2" in flags:
        good.append(["--simd", "avx2"])
    if " avx512bw" in flags:
        good.append(["--simd", "avx512"])
    if h.auto_backend() == "uring":  # else --backend uring exits 1 (tests/integration/test_backend.py)
        good.append(["--backend", "uring"])
    for args in good:
        with h.Server(*args) as srv:
            c = h.RawClient(srv.port, "/echo")
            c.send_text("é" * 300)
            h.check(c.recv_message(timeout=5) == (h.OP_TEXT, ("é" * 300).encode()), f"{args}: echo")
            c.close()
            rc = srv.stop()
            h.check(rc == 0, f"{args}: exit {rc}: {srv.log()[-300:]}")


@test
def simd_level_the_cpu_lacks_is_refused_or_falls_back():
    with open("/proc/cpuinfo") as f:
        if " avx512bw" in f.read():
            raise h.SkipTest("this CPU has AVX-512")
    port = h.free_port()
    p = subprocess.Popen([h.ARGS.ringcast, "--host", "127.0.0.1", "--port", str(port), "--simd", "avx512",
                          *h.backend_args()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        rc = p.wait(3)
        err = p.stderr.read().decode(errors="replace")
        h.check(rc == 2 and len(err.splitlines()) == 1 and err.startswith("ringcast: "),
                f"--simd avx512 without AVX-512: exit {rc}, stderr {err!r}")
    except subprocess.TimeoutExpired:
        # Still running: then it must work (a fallback), not crash on an illegal instruction.
        c = h.RawClient(port, "/echo")
        c.send_text("x" * 1000)
        h.check(c.recv_message(timeout=5) == (h.OP_TEXT, b"x" * 1000), "echo with --simd avx512 fallback")
        c.close()
        p.send_signal(signal.SIGTERM)
        h.check(p.wait(10) == 0, "exit code")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


@test
def port_in_use_fails_fast_without_hanging():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        try:
            rc, out, err = run("--host", "127.0.0.1", "--port", str(port), timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError("started although the port is taken (SO_REUSEPORT with a foreign socket?)")
        h.check(rc != 0, f"exit {rc} with the port taken")
        h.check(err.strip() and err.startswith("ringcast: "), f"stderr {err!r}")


@test
def ipv6_loopback_host():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        raise h.SkipTest("no IPv6 loopback")
    port = h.free_port()
    p = subprocess.Popen([h.ARGS.ringcast, "--host", "::1", "--port", str(port), *h.backend_args()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        s = h.wait_until(lambda: _try_connect6(port), timeout=10, what="listening on [::1]")
        with s:
            s.sendall(h.RawClient.request("/v6"))
            rest = h.expect_upgrade(s)
            c = h.RawClient.__new__(h.RawClient)  # reuse the frame code over this socket
            c.sock, c.buf = s, rest
            c.local_port = s.getsockname()[1]
            c.name = f"ID{c.local_port}"
            c.send_text("over ipv6")
            h.check(h.recv_chat(c, 1) == [(c.name, "over ipv6")], "chat over IPv6")
        p.send_signal(signal.SIGTERM)
        h.check(p.wait(10) == 0, "exit code")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


def _try_connect6(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("::1", port))
        return s
    except OSError:
        s.close()
        return None


if __name__ == "__main__":
    h.main()
