#!/usr/bin/python3
"""RFC 6455 conformance: runs every case of the conformance package against ringcast's
/echo and prints one PASS/FAIL line per case id, then "N passed, N failed".

    /usr/bin/python3 test_conformance.py --ringcast PATH [--build-dir DIR] [-k SUBSTRING]

Any executable that takes `--host H --port P [--max-message N]` and serves /echo can
stand in for ringcast (that is how the suite itself is checked against a reference).
With RINGCAST_TLS=1 (harness.py) the cases run over wss: ringcast gets the harness' TLS
pair and every case connection is a harness.TlsSocket.
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import conformance  # noqa: E402
from conformance import core  # noqa: E402


class _Srv:
    def __init__(self, args):
        self.server = harness.Server(*args)
        self.server.start()
        self.port = self.server.port

    def alive(self):
        return self.server.proc.poll() is None

    def stop(self):
        """Stops the server; returns why its shutdown was not clean, or None. A server that
        ran to the end must exit 0 (LeakSanitizer reports at exit) with no sanitizer report."""
        running = self.alive()
        try:
            rc = self.server.stop()
        except AssertionError as e:  # did not exit on SIGTERM
            return str(e)
        if not running:
            return None  # already reported as "server died" by the runner
        marks = getattr(harness, "SANITIZER_MARKS", ("ERROR: AddressSanitizer", "runtime error:",
                                                      "ERROR: LeakSanitizer"))
        log = self.log()
        if rc != 0 or any(m in log for m in marks):
            return f"ringcast exited with {rc}: {log[-3000:]}"
        return None

    def log(self):
        return self.server.log()


def main():
    args = harness.parse_args()
    if not os.access(args.ringcast, os.X_OK):
        print(f"SKIP: {args.ringcast} is not executable")
        sys.exit(harness.SKIP)
    if getattr(harness, "TLS", False):
        conformance.wire.WRAP = harness.TlsSocket
    t0 = time.monotonic()
    passed, failed = core.run(_Srv, select=args.k, budget=float(os.environ.get("RINGCAST_CONF_BUDGET", "60")))
    print(f"groups: {', '.join(conformance.GROUPS)}; {time.monotonic() - t0:.1f}s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
