"""Clients of the Centrifugo client protocol for the integration tests: a ringcast with a
--config (`server`), the real `centrifuge` SDK in a node process (`Sdk`), a raw client
speaking the protocol's JSON by hand (`Raw`), and tokens as a backend mints them (PyJWT,
Debian's python3-jwt)."""
import base64
import http.client
import json
import os
import queue
import shutil
import tempfile
import time

import harness as h
import jwt as pyjwt

PATH = "/connection/websocket"

OPEN = {
    "client": {"allow_anonymous_connect_without_token": True, "ping_interval": "1s"},
    "channel": {
        "without_namespace": {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
                              "allow_publish_for_subscriber": True, "allow_publish_for_anonymous": True},
        "namespaces": [
            # readable by all, written by no client (a backend's feed)
            {"name": "ticker", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True},
            # anyone may publish, subscribed or not
            {"name": "comments", "allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True,
             "allow_publish_for_client": True, "allow_publish_for_anonymous": True},
        ],
    },
}

# scripts/config/demo.json, what scripts/run.sh serves (the feed and the demo pages use it).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "config", "demo.json")) as f:
    DEMO = json.load(f)

SECRET = "ringcast-test-secret"
SUB_SECRET = "ringcast-test-subscription-secret"

# Tokens checked: a connection key, a separate subscription key, a short grace past expiry
# (the ttl a reply gives is in whole seconds: a refresh at its end is up to one second late).
TOKENS = dict(OPEN, client=dict(OPEN["client"], allow_anonymous_connect_without_token=False,
                                token={"hmac_secret_key": SECRET},
                                subscription_token={"enabled": True, "hmac_secret_key": SUB_SECRET},
                                expired_close_delay="2s", expired_sub_close_delay="2s"),
              channel=dict(OPEN["channel"], namespaces=OPEN["channel"]["namespaces"] + [
                  # authenticated users only: anonymous ones are refused
                  {"name": "members", "allow_subscribe_for_client": True, "allow_publish_for_client": True},
                  # no client may subscribe without a subscription token
                  {"name": "sealed"}]))


KEY = "ringcast-api-key"
API = dict(OPEN, http_api={"key": KEY})  # OPEN with the server API on

NO_GRACE = dict(TOKENS, client=dict(TOKENS["client"], expired_close_delay="0s", expired_sub_close_delay="0s"))

# Namespaces that keep presence (test_presence, test_broker_presence).
ANYONE = {"allow_subscribe_for_client": True, "allow_subscribe_for_anonymous": True}
PRESENCE = dict(API, client=dict(OPEN["client"], token={"hmac_secret_key": SECRET}),
                channel=dict(OPEN["channel"], namespaces=OPEN["channel"]["namespaces"] + [
                    {"name": "room", **ANYONE, "presence": True, "allow_presence_for_subscriber": True,
                     "allow_presence_for_anonymous": True},
                    {"name": "members", **ANYONE, "presence": True, "allow_presence_for_client": True},
                    {"name": "live", **ANYONE, "presence": True, "online_push_interval": "1s"},
                ]))


def presence_stats(c, channel):
    reply = c.call({"presence_stats": {"channel": channel}})
    h.check("presence_stats" in reply, f"presence_stats: {reply}")
    return reply["presence_stats"]




def token(sub="42", ttl=3600, key=SECRET, alg="HS256", **claims):
    """A JWT as a backend would mint it (ttl None: no exp)."""
    body = {"sub": sub, **claims}
    if ttl is not None:
        body["exp"] = int(time.time()) + ttl
    return pyjwt.encode(body, key, algorithm=alg)


def sub_token(channel, sub="42", ttl=3600, **claims):
    return token(sub, ttl, SUB_SECRET, channel=channel, **claims)


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


_config_dir = tempfile.mkdtemp(prefix="ringcast-cp-")


def config_file(cfg, name="config.json"):
    path = os.path.join(_config_dir, name)
    with open(path, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return path


_raws = []


class server:
    """A ringcast with `cfg` as its --config (OPEN when None; False: no --config); the Raw
    clients opened meanwhile are closed before it stops (so it need not wait out their
    close handshakes)."""

    def __init__(self, cfg=None, *args):
        flags = [] if cfg is False else ["--config", config_file(OPEN if cfg is None else cfg)]
        self.srv = h.Server(*flags, *args)

    def __enter__(self):
        _raws.clear()
        return self.srv.__enter__()

    def __exit__(self, *exc):
        for r in _raws:
            r.c.close()
        _raws.clear()
        return self.srv.__exit__(*exc)


class Sdk(h.NodeProcess):
    """One centrifuge SDK client in a node process, as a queue of its events."""

    def __init__(self, url, token=None):
        super().__init__("centrifuge_client.js", url, *(["ringcast-test", token] if token is not None else []))

    def next(self, kind, timeout=10, **match):
        """The next event of `kind` (with fields `match`); a disconnect or exit on the way fails."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"sdk: no {kind} {match or ''} within {timeout}s")
            if ev["event"] == kind and all(ev.get(k) == v for k, v in match.items()):
                return ev
            if ev["event"] in ("disconnected", "connecting", "exit", "garbage", "error") and ev["event"] != kind:
                if not (ev["event"] == "connecting" and ev.get("code") == 0):  # the first connect
                    raise AssertionError(f"sdk: wanted {kind}, got {ev}; stderr: {self.stderr()}")

    def until(self, kind, timeout=10, **match):
        """The next event of `kind` (with fields `match`), whatever comes before it."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"sdk: no {kind} {match or ''} within {timeout}s; saw {seen}")
            if ev["event"] == kind and all(ev.get(k) == v for k, v in match.items()):
                return ev
            if ev["event"] == "exit":
                raise AssertionError(f"sdk exited waiting for {kind}: {seen}; stderr: {self.stderr()}")
            seen.append(ev)

    def quiet(self, seconds):
        """No event at all for `seconds` (a reconnect would show as connecting/connected)."""
        try:
            ev = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"sdk: expected silence, got {ev}")


def sdk(srv, token=None):
    return Sdk(srv.url(PATH), token)


def require_node():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(h.NODE_DIR, "node_modules", "centrifuge")):
        raise h.SkipTest("node or the centrifuge SDK is missing (scripts/setup.sh --test installs them)")


class Raw:
    """A raw WebSocket client speaking the protocol's JSON by hand."""

    def __init__(self, srv, connect=True, token=None, rcvbuf=None):
        self.c = h.RawClient(srv.port, PATH, rcvbuf=rcvbuf)
        _raws.append(self)
        self.next_id = 1
        if connect:
            reply = self.call({"connect": {"name": "raw", **({"token": token} if token else {})}})
            h.check("connect" in reply and reply["connect"].get("pong") is True, f"connect reply {reply}")
            self.client = reply["connect"]["client"]
            self.connected = reply["connect"]

    def send(self, *commands):
        """Sends the commands in one frame, numbered; returns their ids."""
        ids, lines = [], []
        for cmd in commands:
            cmd = dict(cmd)
            if "id" not in cmd:
                cmd["id"] = self.next_id
                self.next_id += 1
            ids.append(cmd["id"])
            lines.append(json.dumps(cmd))
        self.c.send_text("\n".join(lines))
        return ids

    def frames(self, timeout=5):
        """The next text frame's lines as JSON (without the server's `{}` pings, answered)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame")
            lines = [json.loads(line) for line in self.c.recv_text(left).split("\n")]
            if {} in lines:  # a ping, alone or after pushes in the same frame
                self.c.send_text("{}")
                lines = [line for line in lines if line != {}]
            if lines:
                return lines

    def call(self, cmd, timeout=5):
        (cid,) = self.send(cmd)
        replies = self.frames(timeout)
        h.check(len(replies) == 1 and replies[0].get("id") == cid, f"reply to {cmd}: {replies}")
        return replies[0]

    def error(self, cmd):
        reply = self.call(cmd)
        h.check("error" in reply, f"{cmd}: expected an error, got {reply}")
        return reply["error"]["code"]

    def silent(self, seconds):
        """Nothing but the server's pings for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                lines = self.frames(left)
            except TimeoutError:
                return
            raise AssertionError(f"expected silence, got {lines}")

    def close_code(self, timeout=5, skip_pushes=False):
        """Answers the server's pings until its close frame; its code. Any other text frame
        fails, unless `skip_pushes` (a slow reader still has pushes sent before its close)."""
        deadline = time.monotonic() + timeout
        while True:
            self.c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            fin, op, payload = self.c.recv_frame()
            if op == h.OP_CLOSE:
                return h.close_code(payload)
            if op == h.OP_TEXT and payload == b"{}":
                self.c.send_text("{}")
            elif op == h.OP_TEXT and not (skip_pushes and payload.startswith(b'{"push":')):
                raise AssertionError(f"expected a close, got {payload[:200]!r}")

    def push(self, timeout=5):
        lines = self.frames(timeout)
        h.check(len(lines) == 1 and "push" in lines[0], f"expected one push, got {lines}")
        return lines[0]["push"]


def expect_disconnect(c, code):
    got = c.c.expect_close(timeout=5)
    h.check(got == code, f"expected the {code} disconnect, got {got}")


def expect_metrics(srv, *lines):
    """Each of `lines` is a sample line of the server's /metrics."""
    metrics = srv.http_get("/metrics")[2].decode()
    for want in lines:
        h.check(want in metrics, f"/metrics lacks {want}")


# --- the server API ----------------------------------------------------------------------

def conn(srv):
    if srv.tls:
        return http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=h.client_tls())
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)


def call(srv, method, body, key=KEY, c=None, http_method="POST"):
    """(status, parsed JSON answer or raw bytes) of one API call."""
    own = c is None
    c = c or conn(srv)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = key
    c.request(http_method, f"/api/{method}", body=body if isinstance(body, (bytes, str)) else json.dumps(body),
              headers=headers)
    r = c.getresponse()
    data = r.read()
    if own:
        c.close()
    if r.getheader("Content-Type", "").startswith("application/json"):
        return r.status, json.loads(data)
    return r.status, data


def next_count(c, channel, timeout=4):
    """The next online count pushed to `c` in `channel` (other pushes skipped)."""
    while True:
        for line in c.frames(timeout=timeout):
            pub = line.get("push", {}).get("pub")
            if line.get("push", {}).get("channel") == channel and pub and "online" in pub.get("data", {}):
                return pub


# --- Fossil deltas (test_delta, test_broker_history) ---------------------------------------

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"


def fossil_apply(source: bytes, delta: bytes) -> bytes:
    """The test's own reading of Fossil's delta format (the SDK's applyDelta is not exported)."""
    pos = 0

    def number():
        nonlocal pos
        start, v = pos, 0
        while pos < len(delta) and chr(delta[pos]) in DIGITS:
            v = v * 64 + DIGITS.index(chr(delta[pos]))
            pos += 1
        assert pos > start, f"a number at {start}"
        return v

    size = number()
    assert delta[pos:pos + 1] == b"\n"
    pos += 1
    out = bytearray()
    while True:
        n = number()
        op = chr(delta[pos])
        pos += 1
        if op == "@":
            at = number()
            assert delta[pos:pos + 1] == b","
            pos += 1
            out += source[at:at + n]
        elif op == ":":
            out += delta[pos:pos + n]
            pos += n
        else:
            assert op == ";" and len(out) == size, f"end {op} {len(out)} {size}"
            return bytes(out)


def book(i):
    """An order book of 20 levels a side; each update moves the top and one size."""
    return {"symbol": "BTC-USD", "seq": i,
            "bids": [[50000 - k + (i % 3 if k == 0 else 0), 100 + k + (i if k == i % 20 else 0)] for k in range(20)],
            "asks": [[50001 + k, 200 + k + (i if k == (i * 7) % 20 else 0)] for k in range(20)]}
