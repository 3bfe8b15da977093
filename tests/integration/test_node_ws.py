"""A third-party client: Node's `ws` package (tests/node/chat_client.js) chats with a raw
Python client through a real ringcast, both ways; echo of text and binary; ping."""
import base64
import os
import queue
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402



class NodeClient(h.NodeProcess):
    def __init__(self, url):
        super().__init__("chat_client.js", url)
        ev = self.next("open", timeout=10)
        self.port = ev["port"]
        self.name = f"ID{self.port}"

    def next(self, kind, timeout=10, skip_notices=True):
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"node: no {kind} event within {timeout}s")
            if ev["event"] == kind:
                if kind == "message" and skip_notices and not ev["binary"] and h.is_notice(ev["data"]):
                    continue
                return ev
            if ev["event"] in ("error", "exit", "garbage", "close") and kind != ev["event"]:
                raise AssertionError(f"node: wanted {kind}, got {ev}; stderr: {self.stderr()}")


@test
def node_and_python_chat_both_ways():
    with h.Server() as srv:
        py = h.RawClient(srv.port, "/mixed")
        node = NodeClient(srv.url("/mixed"))
        try:
            h.recv_texts_until(py, lambda t: t == f"{node.name} joined", what="node's join notice")
            node.cmd(send="hello from node ✓")
            h.check(h.recv_chat(py, 1) == [(node.name, "hello from node ✓")], "python got node's message")
            h.check(node.next("message")["data"] == f"{node.name}: hello from node ✓", "node got its own")
            py.send_text("hello from python")
            ev = node.next("message")
            h.check(ev == {"event": "message", "binary": False, "data": f"{py.name}: hello from python"},
                    f"node got {ev}")
            h.check(h.recv_chat(py, 1) == [(py.name, "hello from python")], "python got its own")
            for i in range(50):
                node.cmd(send=f"n{i}")
            got = h.recv_chat(py, 50)
            h.check(got == [(node.name, f"n{i}") for i in range(50)], "node's burst, in order")
            node.cmd(close=1000)
            ev = node.next("close")
            h.check(ev["code"] == 1000, f"node close {ev}")
            h.recv_texts_until(py, lambda t: t == f"{node.name} left", what="node's leave notice")
        finally:
            node.kill()
            py.close()


@test
def node_echo_text_binary_large_and_ping():
    with h.Server() as srv:
        node = NodeClient(srv.url("/echo"))
        try:
            for text in ("", "plain", "ünï ✓ 𝄞" * 5000, "B" * (1 << 20)):
                node.cmd(send=text)
                ev = node.next("message", timeout=20)
                h.check(not ev["binary"] and ev["data"] == text, f"text echo len {len(text)}")
            for data in (b"", b"\x00\xff\x10", os.urandom(200000)):
                node.cmd(sendBinary=base64.b64encode(data).decode())
                ev = node.next("message", timeout=20)
                h.check(ev["binary"] and base64.b64decode(ev["data"]) == data, f"binary echo len {len(data)}")
            node.cmd(ping="are you there")
            h.check(node.next("pong")["data"] == "are you there", "pong payload")
        finally:
            node.kill()


@test
def node_sees_1001_on_shutdown():
    srv = h.Server()
    srv.start()
    node = NodeClient(srv.url("/"))
    try:
        srv.proc.terminate()
        ev = node.next("close", timeout=10)
        h.check(ev["code"] == 1001, f"close {ev}")
        h.check(srv.proc.wait(10) == 0, "exit code")
    finally:
        node.kill()
        srv.stop()


if __name__ == "__main__":
    if shutil.which("node") is None:
        print("FAIL setup: `node` is not on PATH (scripts/setup.sh --test installs nodejs)")
        print("0 passed, 1 failed")
        sys.exit(1)
    if not os.path.isfile(os.path.join(h.NODE_DIR, "node_modules", "ws", "package.json")):
        print(f"FAIL setup: {h.NODE_DIR}/node_modules/ws is missing; run "
              f"`cd {h.NODE_DIR} && npm install` (scripts/setup.sh --test does)")
        print("0 passed, 1 failed")
        sys.exit(1)
    h.main()
