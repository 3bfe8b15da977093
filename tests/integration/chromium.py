"""Headless Chromium for the integration tests, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe): open pages, evaluate in them, wait for what they render, take
screenshots. Under RINGCAST_TLS=1 it trusts exactly the harness' certificate, by its key."""
import base64
import fcntl
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import harness as h

CHROMIUM = "/usr/bin/chromium"


def spki_sha256(cert):
    """base64 of the SHA-256 of `cert`'s SubjectPublicKeyInfo (DER), as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                         capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _above_4(fd):
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """Chromium with the DevTools protocol on a pipe: we write fd 3, it answers on fd 4;
    messages are JSON terminated by NUL."""

    def __init__(self):
        self.profile = tempfile.TemporaryDirectory(prefix="ringcast-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Move the child's ends above fd 4 so the shell's redirections cannot clobber them.
        to_chrome_r, from_chrome_w = (_above_4(to_chrome_r), _above_4(from_chrome_w))
        args = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
                f"--user-data-dir={self.profile.name}", "--remote-debugging-pipe", "about:blank"]
        if h.TLS:  # trust exactly the harness' certificate (the flag needs --user-data-dir)
            args.insert(1, f"--ignore-certificate-errors-spki-list={spki_sha256(h.tls_files()[0])}")
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        # bash (dash takes single-digit fds only) puts our pipe ends on the browser's fds 3, 4.
        shell = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["/bin/bash", "-c", shell, "bash", *args], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     pass_fds=(to_chrome_r, from_chrome_w), start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.replies = {}
        self.cv = threading.Condition()
        self.events = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cv:
                    self.replies[None] = "eof"
                    self.cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self.cv:
                        self.replies[msg["id"]] = msg
                        self.cv.notify_all()
                else:
                    self.events.put(msg)

    def call(self, method, session=None, timeout=15, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.cv:
            while mid not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0 or None in self.replies:
                    raise AssertionError(f"chromium: no answer to {method} "
                                         f"({'browser exited' if None in self.replies else 'timeout'}); "
                                         f"log: {self.output()[-800:]}")
                self.cv.wait(left)
            reply = self.replies.pop(mid)
        if "error" in reply:
            raise AssertionError(f"chromium: {method} failed: {reply['error']}")
        return reply.get("result", {})

    def open_page(self, url):
        # The first call also waits for the browser to start: generous on a loaded machine.
        target = self.call("Target.createTarget", timeout=40, url=url)["targetId"]
        return self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def eval(self, session, expression):
        r = self.call("Runtime.evaluate", session=session, expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"page exception in {expression!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_eval(self, session, expression, pred, timeout=15, what=None):
        return h.wait_until(lambda: (lambda v: v if pred(v) else None)(self.eval(session, expression)),
                            timeout=timeout, interval=0.1, what=what or expression)

    def screenshot(self, session, path, width=1100, height=640):
        """A PNG of the page at `width` x `height` CSS pixels, written to `path`."""
        self.call("Emulation.setDeviceMetricsOverride", session=session, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        data = base64.b64decode(self.call("Page.captureScreenshot", session=session, format="png")["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.call("Browser.close", timeout=3)
                except AssertionError:
                    pass
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # The browser runs in its own session: end it and any helper left in its group.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(5)
            for fd in (self._to_chrome, self._from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            self.profile.cleanup()


def require_chromium():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        raise h.SkipTest(f"{CHROMIUM} is missing (scripts/setup.sh --test installs chromium)")
