"""wss and https: real TLS clients (Python ssl + websockets, openssl s_client) against
--tls-cert/--tls-key, with ws beside it on --tls-port; TLS 1.2 and 1.3, ALPN, handshakes
that fail (plain HTTP on the TLS port, TLS on the ws port, garbage, old versions, no shared
cipher, a hello cut short, renegotiation) closed cleanly and counted by reason; SIGHUP
reloads the pair (a broken file keeps the old one); bad files are one line and exit 2."""
import asyncio
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

try:
    import websockets
except ImportError:
    websockets = None


class TlsServer(h.Server):
    """ws on .port and wss on .tls_port (the harness' self-signed pair unless given)."""

    def __init__(self, *args, cert=None, key=None, **kw):
        c, k = h.tls_files()
        self.tls_port = h.free_port()
        super().__init__("--tls-cert", cert or c, "--tls-key", key or k, "--tls-port", str(self.tls_port),
                         *args, **kw)

    def wss(self, path="/"):
        return f"wss://127.0.0.1:{self.tls_port}{path}"


def tls_socket(port, ctx=None, timeout=5.0):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return (ctx or h.client_tls()).wrap_socket(raw, server_hostname="127.0.0.1")


class WssClient(h.RawClient):
    """RawClient's frames inside TLS records (Python's ssl, verifying the certificate)."""

    def __init__(self, port, path="/", ctx=None, timeout=5.0):
        self.sock = tls_socket(port, ctx=ctx, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.local_port = self.sock.getsockname()[1]
        self.name = f"ID{self.local_port}"
        status, _ = self.handshake(path)
        h.check(status == 101, f"wss handshake answered {status}")


def read_to_eof(sock, timeout=5.0):
    """Everything until EOF; raises if the server resets instead of closing cleanly."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)  # ConnectionResetError here is the failure: no clean close
        if not chunk:
            return data
        data += chunk


def tls_failures(srv):
    m = h.metrics(srv)
    return {k.split('reason="')[1].rstrip('"}'): v for k, v in m.items()
            if k.startswith("ringcast_tls_handshake_failures_total{")}


def wait_failure(srv, reason, at_least=1):
    return h.wait_until(lambda: tls_failures(srv).get(reason, 0) >= at_least, timeout=5,
                        what=f"ringcast_tls_handshake_failures_total{{reason={reason!r}}} >= {at_least}")


def s_client(port, *args, stdin=b"", timeout=10):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        "-CAfile", h.tls_files()[0], *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def fingerprint(port):
    with tls_socket(port) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


@test
def wss_echo_chat_and_https_pages_with_a_verified_certificate():
    with TlsServer() as srv:
        # Raw frames through Python's TLS socket: the same bytes as ws, inside records.
        c = WssClient(srv.tls_port, "/echo")
        h.check(c.sock.selected_alpn_protocol() == "http/1.1", f"ALPN: {c.sock.selected_alpn_protocol()!r}")
        for size in (0, 1, 125, 126, 65535, 65536, 16384 * 3 + 7, 5 << 20):
            payload = os.urandom(size)
            c.send(h.OP_BINARY, payload)
            op, got = c.recv_message(timeout=20)
            h.check(op == h.OP_BINARY and got == payload, f"echo of {size} B over wss came back wrong")
        c.close()
        # A wss member and a ws member of one room hear each other.
        a = WssClient(srv.tls_port, "/mixed")
        b = h.RawClient(srv.port, path="/mixed")
        try:
            b.send_text("from ws")
            h.check(h.recv_chat(a, 1) == [(b.name, "from ws")], "the wss member missed the ws line")
            a.send_text("from wss")
            got = h.recv_chat(b, 2)
            h.check((a.name, "from wss") in got, f"the ws member got {got!r}")
        finally:
            h.close_all([a, b])
        with tls_socket(srv.tls_port) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = read_to_eof(s)
        h.check(answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nok\n"), f"https /healthz: {answer[:200]!r}")
        h.check(h.metric(h.metrics(srv), "ringcast_tls_handshakes_total") == 3, "3 handshakes made")


@test
def a_slow_reader_gets_the_whole_echo_through_partial_sends():
    # A tiny receive window and a message past the server's send buffer: the sealed
    # chunks meet a full socket (EAGAIN, partial sends) and every byte still arrives
    # promptly, the last chunk included (nothing is left queued to send it then).
    with TlsServer("--idle-timeout", "120s") as srv:
        c = h.RawClient(srv.tls_port, path="/echo", handshake=False)
        c.sock.close()
        c.sock = h.raw_socket(srv.tls_port, timeout=20, rcvbuf=4096, tls=True)
        c.handshake("/echo")
        for size in (200_000, 8 << 20):  # past the server's send buffer (tcp_wmem: 4 MiB)
            payload = os.urandom(size)
            c.send(h.OP_BINARY, payload)
            t0 = time.monotonic()
            got = b""
            while len(got) < size + 4:  # read slowly: a few KiB at a time
                time.sleep(0.0005)
                chunk = c.sock.recv(65536)
                h.check(chunk, "the server closed the slow reader")
                got += chunk
                h.check(time.monotonic() - t0 < 15, f"echo of {size} B stalled after {len(got)} bytes")
            c.buf = got
            op, back = c.recv_message(timeout=20)
            h.check(op == h.OP_BINARY and back == payload, f"echo of {size} B came back wrong")
        c.close()


@test
def python_websockets_over_wss_tls12_and_tls13():
    if websockets is None:
        raise h.SkipTest("python3-websockets is not installed (scripts/setup.sh --test)")

    async def go(srv, version):
        ctx = h.client_tls()
        ctx.minimum_version = ctx.maximum_version = version
        async with websockets.connect(srv.wss("/echo"), ssl=ctx, max_size=None, compression=None,
                                      ping_interval=None, open_timeout=10) as ws:
            await ws.send("héllo")
            h.check(await ws.recv() == "héllo", "text echo")
            big = os.urandom(16 << 20)  # --max-message's default: many full records each way
            await ws.send(big)
            h.check(await asyncio.wait_for(ws.recv(), 60) == big, "16 MiB echo")
            await ws.close()
            h.check(ws.close_code == 1000, f"close code {ws.close_code}")

    with TlsServer() as srv:
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            asyncio.run(asyncio.wait_for(go(srv, v), 120))


@test
def openssl_s_client_negotiates_alpn_and_both_versions():
    with TlsServer() as srv:
        for version, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out = s_client(srv.tls_port, version, "-alpn", "http/1.1")
            h.check(f"Protocol  : {name}" in out or f"New, {name}" in out, f"{version}: {out[-1500:]}")
            h.check("ALPN protocol: http/1.1" in out, f"{version}: no ALPN http/1.1:\n{out[-1500:]}")
            h.check("Verify return code: 0 (ok)" in out, f"{version}: certificate not verified:\n{out[-800:]}")
        # A client offering only h2 still gets a session (without ALPN): HTTP/1.1 follows.
        rc, out = s_client(srv.tls_port, "-alpn", "h2")
        h.check("No ALPN negotiated" in out and "Cipher is" in out, f"h2-only offer:\n{out[-1500:]}")
        # Chosen 1.2 ciphers are forward-secret AEAD only.
        rc, out = s_client(srv.tls_port, "-tls1_2")
        h.check("ECDHE-RSA-AES" in out and "GCM" in out, f"TLS 1.2 cipher:\n{out[-800:]}")


@test
def session_tickets_resume_on_any_shard():
    # One SSL_CTX (one ticket key) serves every shard: a ticket from one shard resumes on another.
    with TlsServer("--threads", "2") as srv, tempfile.TemporaryDirectory() as d:
        for version in ("-tls1_2", "-tls1_3"):
            sess = os.path.join(d, f"sess{version}")
            # s_client reads the TLS 1.3 ticket only after the handshake: keep stdin open a moment.
            p = subprocess.run(["sh", "-c", f"sleep 0.4 | openssl s_client -connect 127.0.0.1:{srv.tls_port} "
                                f"{version} -CAfile {h.tls_files()[0]} -sess_out {sess}"],
                               capture_output=True, timeout=10)
            h.check(b"New, TLSv1." in p.stdout, f"{version}: first handshake:\n{p.stdout[-600:]!r}")
            reused = 0
            for _ in range(4):  # SO_REUSEPORT spreads these over both shards
                rc, out = s_client(srv.tls_port, version, "-sess_in", sess)
                reused += "Reused, TLSv1." in out
            h.check(reused == 4, f"{version}: {reused}/4 resumed")


@test
def failed_handshakes_close_cleanly_and_are_counted_by_reason():
    with TlsServer("--handshake-timeout", "1s") as srv:
        # Plain HTTP on the TLS port: a clean close (no HTTP answer can be trusted there).
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            read_to_eof(s)
        wait_failure(srv, "http_on_tls_port")
        # A TLS hello on the plain ws port.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
            try:
                h.client_tls().wrap_socket(raw, server_hostname="127.0.0.1").close()
                raise AssertionError("a TLS handshake succeeded on the plain ws port")
            except (ssl.SSLError, ConnectionResetError, OSError):
                pass
        wait_failure(srv, "tls_on_plain_port")
        # Garbage before the hello.
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x00\x05garbage and more garbage" * 4)
            read_to_eof(s)
        wait_failure(srv, "protocol")
        # TLS 1.1 only (the server's floor is 1.2), and no cipher in common.
        s_client(srv.tls_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        wait_failure(srv, "protocol_version")
        s_client(srv.tls_port, "-tls1_2", "-cipher", "AES128-SHA")
        wait_failure(srv, "no_shared_cipher")
        # A hello cut in half, then silence: the handshake deadline closes it.
        hello = client_hello()
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(hello[: len(hello) // 2])
            t0 = time.monotonic()
            read_to_eof(s, timeout=5)
            h.check(time.monotonic() - t0 < 3, "the stalled handshake outlived --handshake-timeout")
        wait_failure(srv, "timeout")
        # A whole hello, then nothing: the same deadline (the server's flight is answered by nobody).
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(hello)
            read_to_eof(s, timeout=5)
        wait_failure(srv, "timeout", 2)
        # Hanging up mid-handshake.
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as s:
            s.sendall(hello[:40])
        wait_failure(srv, "peer_closed")
        # After all that, wss still works.
        h.check(fingerprint(srv.tls_port) != "", "no handshake after the failures")


def client_hello():
    """A real ClientHello (TLS 1.3-capable), captured from Python's ssl on a memory BIO."""
    ctx = h.client_tls()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


@test
def renegotiation_is_refused_and_the_server_goes_on():
    with TlsServer() as srv:
        # s_client's "R" command asks for a TLS 1.2 renegotiation.
        p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.tls_port}", "-tls1_2",
                              "-CAfile", h.tls_files()[0]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        time.sleep(0.5)
        p.stdin.write(b"R\n")
        p.stdin.flush()
        time.sleep(0.5)
        out = p.communicate(timeout=10)[0].decode(errors="replace")
        h.check("RENEGOTIATING" in out, f"s_client did not try:\n{out[-1200:]}")
        h.check("no renegotiation" in out, f"renegotiation was not refused:\n{out[-1200:]}")
        h.check(fingerprint(srv.tls_port) != "", "no handshake after the renegotiation attempt")
        status, _, body = srv.http_get("/healthz")
        h.check(status == 200, "the plain port stopped answering")


@test
def many_concurrent_handshakes_all_complete():
    # More than a turn's handshake budget at once: the rest wait their turn, none is lost.
    n = 120
    with TlsServer("--threads", "1") as srv:
        results, lock = [], threading.Lock()

        def one():
            try:
                with tls_socket(srv.tls_port, timeout=20) as s:
                    s.sendall(h.RawClient.request("/echo"))
                    ok = s.recv(4096).startswith(b"HTTP/1.1 101")
            except OSError as e:
                ok = repr(e)
            with lock:
                results.append(ok)

        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        h.check(results.count(True) == n, f"{results.count(True)}/{n} upgrades: {[r for r in results if r is not True][:3]}")
        h.check(h.metric(h.metrics(srv), "ringcast_tls_handshakes_total") >= n, "handshakes not counted")


@test
def sighup_reloads_the_pair_and_a_broken_one_keeps_the_old():
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        h.make_cert(cert, key, cn="first")
        with TlsServer(cert=cert, key=key) as srv:
            first = fingerprint_with(srv.tls_port, cert)
            held = WssClient(srv.tls_port, "/echo", ctx=h.client_tls(cafile=cert))
            # Renewed: a new pair in place of the old files.
            new_cert, new_key = os.path.join(d, "c2.pem"), os.path.join(d, "k2.pem")
            h.make_cert(new_cert, new_key, cn="second", kind="ec")
            shutil.copy(new_cert, cert)
            shutil.copy(new_key, key)
            srv.proc.send_signal(signal.SIGHUP)
            h.wait_until(lambda: "SIGHUP: reloaded" in srv.log(), timeout=5, what="the reload line")
            second = h.wait_until(lambda: (fp := fingerprint_with(srv.tls_port, new_cert)) != first and fp,
                                  timeout=5, what="the new certificate")
            # The connection made before the reload goes on with its session.
            held.send_text("still here")
            h.check(held.recv_text() == "still here", "the held connection broke at the reload")
            held.close()
            # A broken file: the old (second) pair stays, and the log says why.
            with open(key, "w") as f:
                f.write("not a key\n")
            srv.proc.send_signal(signal.SIGHUP)
            h.wait_until(lambda: "keeping the previous certificate" in srv.log(), timeout=5,
                         what="the refused reload line")
            h.check(fingerprint_with(srv.tls_port, new_cert) == second, "a broken reload replaced the pair")


def fingerprint_with(port, cafile):
    with tls_socket(port, ctx=h.client_tls(cafile=cafile)) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


@test
def bad_certificate_or_key_is_one_line_and_exit_2():
    cert, key = h.tls_files()
    with tempfile.TemporaryDirectory() as d:
        other_cert, other_key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        h.make_cert(other_cert, other_key)
        junk = os.path.join(d, "junk.pem")
        with open(junk, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        cases = [
            (["--tls-cert", os.path.join(d, "missing.pem"), "--tls-key", key], "missing.pem"),
            (["--tls-cert", junk, "--tls-key", key], "junk.pem"),
            (["--tls-cert", cert, "--tls-key", other_key], "does not match"),
            (["--tls-cert", cert, "--tls-key", key, "--tls-ciphers", "NOPE-NOTHING"], "--tls-ciphers"),
            (["--tls-cert", cert], "--tls-cert needs --tls-key"),
            (["--tls-port", "9443"], "--tls-port needs"),
        ]
        for args, needle in cases:
            p = subprocess.run([h.ARGS.ringcast, "--port", "0", *h.backend_args(), *args], capture_output=True,
                               timeout=10)
            err = p.stderr.decode(errors="replace")
            h.check(p.returncode == 2, f"{args}: exit {p.returncode}: {err}")
            h.check(len(err.strip().splitlines()) == 1 and needle in err, f"{args}: want one line with {needle!r}: {err!r}")


if __name__ == "__main__":
    if shutil.which("openssl") is None:
        print("SKIP: the openssl command is missing (scripts/setup.sh --test installs it)")
        sys.exit(h.SKIP)
    h.main()
