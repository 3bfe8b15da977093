"""Slow consumers: a client that never reads must not grow server memory past its budget
nor stall the room. --slow-policy close ends it (1008 or a TCP close) and counts it;
--slow-policy drop skips messages for it and keeps it connected."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402

MSG = 4096
BACKLOG = 256 << 10
WINDOW = 32  # publisher stays at most this many messages ahead of the readers


def flood_count():
    """Enough 4 KiB messages to overflow the kernel buffers on both ends plus the backlog."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except OSError:
        wmem_max = 4 << 20
    total = max(16 << 20, 2 * wmem_max + 4 * BACKLOG)
    return min(total, 64 << 20) // MSG


def body(seq):
    head = f"seq:{seq:07d}:"
    return head + "x" * (MSG - len(head))


def seq_of(text):
    return int(text.split(":")[1])


class Reader(threading.Thread):
    """Reads the room for one client; records the publisher's sequence numbers and the
    longest gap between two messages."""

    def __init__(self, client, publisher):
        super().__init__(daemon=True)
        self.c, self.pub = client, publisher
        self.seqs, self.max_gap, self.error = [], 0.0, None
        self.last = None
        self.stop = False

    def run(self):
        try:
            while not self.stop:
                try:
                    text = self.c.recv_text(timeout=0.5)
                except socket.timeout:
                    continue
                now = time.monotonic()
                if self.last is not None:
                    self.max_gap = max(self.max_gap, now - self.last)
                self.last = now
                if h.is_notice(text):
                    continue
                sender, b = h.split_chat(text)
                if sender == self.pub and b.startswith("seq:"):
                    self.seqs.append(seq_of(b))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


class RssSampler(threading.Thread):
    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.peak, self.stop = srv, 0, False

    def run(self):
        while not self.stop:
            try:
                self.peak = max(self.peak, self.srv.rss_kib())
            except OSError:
                return
            time.sleep(0.05)


def flood(srv, policy):
    """Starts a server with the policy, a never-reading client, a publisher and a normal
    reader; floods; returns (srv-side facts) for the policy-specific checks."""
    n = flood_count()
    slow = h.RawClient(srv.port, rcvbuf=4096)
    pub, normal = h.open_clients(srv.port, 2)
    rp, rn = Reader(pub, pub.name), Reader(normal, pub.name)
    rss = RssSampler(srv)
    time.sleep(0.2)
    base_rss = srv.rss_kib()
    rp.start(), rn.start(), rss.start()
    try:
        t0 = time.monotonic()
        for seq in range(n):
            pub.send_text(body(seq))
            # Flow control for the readers only: the slow client is never waited for.
            deadline = time.monotonic() + 20
            while seq - min(len(rp.seqs), len(rn.seqs)) > WINDOW:
                h.check(rp.error is None and rn.error is None, f"reader failed: {rp.error or rn.error}")
                h.check(time.monotonic() < deadline,
                        f"room stalled at {seq}/{n} (pub got {len(rp.seqs)}, normal {len(rn.seqs)})")
                time.sleep(0.001)
        h.wait_until(lambda: len(rn.seqs) >= n and len(rp.seqs) >= n, timeout=20,
                     what=f"all {n} messages at the normal client and the publisher")
        elapsed = time.monotonic() - t0
    finally:
        rp.stop = rn.stop = rss.stop = True
        rp.join(2), rn.join(2), rss.join(2)
    for r in (rp, rn):
        h.check(r.error is None, f"reader error {r.error!r}")
        h.check(r.seqs == list(range(n)), f"{r.c.name}: messages lost or out of order "
                                          f"({len(r.seqs)} of {n})")
        h.check(r.max_gap < 5.0, f"{r.c.name}: stalled {r.max_gap:.1f}s")
    growth_mib = (rss.peak - base_rss) / 1024
    h.check(growth_mib < 64, f"server RSS grew {growth_mib:.1f} MiB (base {base_rss} KiB)")
    print(f"  {policy}: {n} x {MSG} B in {elapsed:.1f}s, RSS +{growth_mib:.1f} MiB, "
          f"max gap {rn.max_gap:.2f}s", flush=True)
    return n, slow, pub, normal


def close_policy(*extra):
    with h.Server("--max-backlog", str(BACKLOG), "--slow-policy", "close", *extra) as srv:
        before = h.metric(h.metrics(srv), "ringcast_slow_clients_closed_total")
        n, slow, pub, normal = flood(srv, "close")
        try:
            h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_slow_clients_closed_total") > before,
                         what="slow_clients_closed_total to increment")
            # Whatever reached the slow client is an in-order prefix, then 1008 or the TCP end.
            seqs, code = [], None
            slow.sock.settimeout(10)
            try:
                while True:
                    text = slow.recv_text(timeout=10)
                    sender, b = h.split_chat(text)
                    if sender == pub.name:
                        seqs.append(seq_of(b))
            except h.ConnectionClosed as e:
                code = e.args[0]
            except (ConnectionResetError, BrokenPipeError):
                code = "reset"
            except socket.timeout:
                raise AssertionError(f"slow client still open after the flood ({len(seqs)} received)")
            h.check(not isinstance(code, int) or code == 1008,
                    f"slow client closed with {code}, want 1008 or a TCP close")
            h.check(seqs == list(range(len(seqs))), "slow client's messages not an in-order prefix")
            h.check(len(seqs) < n, f"slow client got all {n} messages: it was never slow")
            # The room still works for the others.
            pub.send_text("after")
            for c in (pub, normal):
                h.recv_texts_until(c, lambda t: t == f"{pub.name}: after", what="'after'")
        finally:
            h.close_all([slow, pub, normal])


def drop_policy(*extra):
    with h.Server("--max-backlog", str(BACKLOG), "--slow-policy", "drop", *extra) as srv:
        m0 = h.metrics(srv)
        n, slow, pub, normal = flood(srv, "drop")
        try:
            m1 = h.metrics(srv)
            dropped = h.metric(m1, "ringcast_frames_dropped_total") - h.metric(m0, "ringcast_frames_dropped_total")
            h.check(dropped > 0, "frames_dropped_total did not move")
            h.check(h.metric(m1, "ringcast_slow_clients_closed_total")
                    == h.metric(m0, "ringcast_slow_clients_closed_total"), "drop policy closed a client")
            # Now the slow client reads: every frame is whole, in order, with gaps.
            seqs = []
            pub.send_text("after")
            for t in h.recv_texts_until(slow, lambda t: t == f"{pub.name}: after", timeout=30,
                                        what="'after' at the formerly slow client"):
                sender, b = h.split_chat(t)
                if sender == pub.name and b.startswith("seq:"):
                    seqs.append(seq_of(b))
            h.check(seqs == sorted(set(seqs)), "slow client's messages out of order or repeated")
            h.check(len(seqs) < n, f"slow client got all {n} messages though frames were dropped")
            h.check(len(seqs) + dropped >= n, f"received {len(seqs)} + dropped {dropped} < {n}")
            # It can still talk to the room.
            slow.send_text("i am back")
            h.recv_texts_until(normal, lambda t: t == f"{slow.name}: i am back", timeout=20,
                               what="message from the formerly slow client")
        finally:
            h.close_all([slow, pub, normal])


@test
def slow_client_is_closed_and_room_keeps_flowing():
    close_policy()


@test
def slow_client_with_drop_policy_skips_messages_and_stays():
    drop_policy()


@test
def slow_client_policies_with_two_shards():
    close_policy("--threads", "2")
    drop_policy("--threads", "2")


if __name__ == "__main__":
    h.main()
