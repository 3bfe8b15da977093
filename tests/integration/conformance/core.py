"""Case registry and runner for the RFC 6455 conformance suite.

A case is a function taking a Ctx (the port of an echo server) plus its data arguments.
Cases that need particular server options (e.g. --max-message) say so; the runner starts
one server per distinct option set.
"""
import time
import traceback

from .wire import CaseFailure, Conn, TIMEOUT

CASES = []


class Case:
    def __init__(self, cid, fn, args, server_args):
        self.id, self.fn, self.args, self.server_args = cid, fn, args, tuple(server_args)


def add(cid, fn, *args, server_args=()):
    if any(c.id == cid for c in CASES):
        raise ValueError(f"duplicate case id {cid}")
    CASES.append(Case(cid, fn, args, server_args))


def case(cid, server_args=()):
    """Decorator for a case without data arguments."""
    def deco(fn):
        add(cid, fn, server_args=server_args)
        return fn
    return deco


class Ctx:
    def __init__(self, port, path="/echo"):
        self.port, self.path = port, path

    def raw(self, timeout=TIMEOUT):
        """A TCP connection without a handshake."""
        return Conn(self.port, timeout)

    def ws(self, timeout=TIMEOUT, headers=None):
        """A connection upgraded on the echo path (with extra request `headers`)."""
        c = Conn(self.port, timeout)
        try:
            return c.handshake(self.path, headers)
        except BaseException:
            c.close_socket()
            raise


def run(start_server, select="", budget=75.0, verbose_pass=True):
    """Runs every selected case; start_server(args) -> an object with port, alive(),
    stop() (returns None or why the server did not exit cleanly) and log(). Each server
    start's clean exit counts as one more case (server.clean-exit).
    Prints PASS/FAIL per case id and returns (passed, failed)."""
    selected = [c for c in CASES if select in c.id]
    groups = {}
    for c in selected:
        groups.setdefault(c.server_args, []).append(c)
    passed = failed = 0
    t_start = time.monotonic()
    for server_args, cases in groups.items():
        srv = start_server(server_args)
        try:
            for c in cases:
                if time.monotonic() - t_start > budget:
                    failed += 1
                    print(f"FAIL {c.id}: not run, the {budget:.0f}s time budget is spent", flush=True)
                    continue
                t0 = time.monotonic()
                err = None
                try:
                    c.fn(Ctx(srv.port), *c.args)
                except CaseFailure as e:
                    err = str(e)
                except OSError as e:
                    err = f"{type(e).__name__}: {e}"
                except Exception:  # noqa: BLE001 - a suite bug; report it with its stack
                    err = "suite error:\n" + traceback.format_exc()
                if err is None and not srv.alive():
                    err = "server died"
                dt = time.monotonic() - t0
                if err is None:
                    passed += 1
                    if verbose_pass:
                        print(f"PASS {c.id} ({dt:.2f}s)", flush=True)
                else:
                    failed += 1
                    print(f"FAIL {c.id} ({dt:.2f}s): {err}", flush=True)
                if not srv.alive():
                    print(f"server died; log:\n{srv.log()[-2000:]}\nrestarting", flush=True)
                    srv.stop()
                    srv = start_server(server_args)
        finally:
            err = srv.stop()
        name = "server.clean-exit" + ("[" + " ".join(server_args) + "]" if server_args else "")
        if err is None:
            passed += 1
            print(f"PASS {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}: {err}", flush=True)
    return passed, failed
