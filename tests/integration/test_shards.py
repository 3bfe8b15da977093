"""Cross-shard fan-out: with --threads 2, SO_REUSEPORT spreads clients over both shards,
and every message reaches every client of the room, in order per publisher."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402


def all_to_all(srv, n, per_client, path="/"):
    clients = h.open_clients(srv.port, n, path)
    try:
        names = [c.name for c in clients]
        for k in range(per_client):
            for i, c in enumerate(clients):
                c.send_text(f"{k}|{i}|" + "p" * (i * 13 % 200))
        for r in clients:
            got = h.recv_chat(r, n * per_client, timeout=40)
            by_sender = {}
            for sender, body in got:
                by_sender.setdefault(sender, []).append(int(body.split("|")[0]))
            for c in clients:
                h.check(by_sender.get(c.name) == list(range(per_client)),
                        f"{r.name} got from {c.name}: {by_sender.get(c.name)!r}")
            h.check(set(by_sender) == set(names), f"{r.name}: unexpected senders")
        return clients
    except BaseException:
        h.close_all(clients)
        raise


@test
def forty_clients_on_two_shards_all_receive_everything():
    with h.Server("--threads", "2") as srv:
        h.close_all(all_to_all(srv, 40, 3))


@test
def join_and_leave_notices_cross_shards():
    with h.Server("--threads", "2") as srv:
        first = h.RawClient(srv.port, "/x")
        others = h.open_clients(srv.port, 12, "/x")
        try:
            want = {f"{c.name} joined" for c in others}
            h.recv_texts_until(first, lambda t: (want.discard(t), not want)[1], timeout=15,
                               what=f"join notices (missing {want})")
            h.close_all(others)
            want = {f"{c.name} left" for c in others}
            h.recv_texts_until(first, lambda t: (want.discard(t), not want)[1], timeout=15,
                               what=f"leave notices (missing {want})")
        finally:
            first.close()


@test
def rooms_stay_isolated_across_shards():
    with h.Server("--threads", "2") as srv:
        a = h.open_clients(srv.port, 8, "/a")
        b = h.open_clients(srv.port, 8, "/b")
        try:
            a[0].send_text("only a")
            b[-1].send_text("only b")
            for c in a:
                h.check(h.recv_chat(c, 1) == [(a[0].name, "only a")], f"{c.name} in /a")
            for c in b:
                h.check(h.recv_chat(c, 1) == [(b[-1].name, "only b")], f"{c.name} in /b")
            for c in a + b:
                h.expect_silence(c, 0.1, ignore_notices=True)
        finally:
            h.close_all(a + b)


@test
def metrics_sum_over_shards():
    with h.Server("--threads", "2") as srv:
        g0 = h.metric(h.metrics(srv), "ringcast_connections")
        clients = all_to_all(srv, 10, 1)
        try:
            m = h.metrics(srv)
            h.check(h.metric(m, "ringcast_connections") - g0 >= 10, f"connections {m}")
            h.check(h.metric(m, "ringcast_messages_in_total") >= 10, f"messages_in {m}")
            h.check(h.metric(m, "ringcast_messages_out_total") >= 100, f"messages_out {m}")
            # One gauge per shard, adding up to the total: the SO_REUSEPORT spread is visible.
            per_shard = {k: v for k, v in m.items() if k.startswith("ringcast_shard_connections{")}
            h.check(sorted(per_shard) == ['ringcast_shard_connections{shard="0"}',
                                          'ringcast_shard_connections{shard="1"}'],
                    f"per-shard gauges: {sorted(per_shard)}")
            h.check(sum(per_shard.values()) == h.metric(m, "ringcast_connections"),
                    f"per-shard gauges {per_shard} do not add up to the total")
        finally:
            h.close_all(clients)


@test
def churn_while_publishing_loses_nothing_for_stable_clients():
    # Joins and leaves (clean closes and abrupt TCP closes) on both shards while a
    # publisher sends: the stable clients get every message, in order.
    with h.Server("--threads", "2") as srv:
        g0 = h.metric(h.metrics(srv), "ringcast_connections")
        stable = h.open_clients(srv.port, 10, "/churn")
        pub = stable[0]
        total = 200
        stop = threading.Event()
        errors = []

        def churn():
            try:
                while not stop.is_set():
                    batch = h.open_clients(srv.port, 5, "/churn")
                    for i, c in enumerate(batch):
                        if i % 2:
                            c.close(1000)
                        else:
                            c.sock.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=churn, daemon=True)
        t.start()
        try:
            for k in range(total):
                pub.send_text(f"c{k}")
                if k % 20 == 0:
                    time.sleep(0.02)
            for c in stable:
                got = [b for s, b in h.recv_chat(c, total, timeout=40) if s == pub.name]
                h.check(got == [f"c{k}" for k in range(total)], f"{c.name}: {len(got)} of {total} in order")
        finally:
            stop.set()
            t.join(20)
            h.close_all(stable)
        h.check(not errors, f"churn failed: {errors!r}")
        h.check(srv.proc.poll() is None, f"server died: {srv.log()[-1000:]}")
        h.wait_until(lambda: h.metric(h.metrics(srv), "ringcast_connections") <= g0, timeout=15,
                     what="connections gauge back to its start value")



@test
def pin_puts_each_shard_on_its_own_allowed_cpu():
    if len(os.sched_getaffinity(0)) < 2:
        raise h.SkipTest("needs two CPUs")
    cpus = sorted(os.sched_getaffinity(0))[:2]
    def single_cpu_tasks(pid):
        out = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                got = os.sched_getaffinity(int(tid))
            except OSError:
                continue
            if len(got) == 1:
                out.append(next(iter(got)))
        return sorted(out)
    # Shard threads pin themselves before the start-up barrier, so once any shard has
    # answered a request every one of them is pinned.
    with h.Server("--threads", "2", "--pin", "on") as srv:
        h.metrics(srv)
        h.check(single_cpu_tasks(srv.proc.pid) == cpus,
                f"shard threads on {single_cpu_tasks(srv.proc.pid)}, want one each on {cpus}")
    with h.Server("--threads", "2") as srv:
        h.metrics(srv)
        h.check(single_cpu_tasks(srv.proc.pid) == [], "threads pinned without --pin")
    # Started under taskset: pinning stays inside the CPUs it was given.
    only = cpus[1]
    with h.Server("--threads", "2", "--pin", "on", preexec_fn=lambda: os.sched_setaffinity(0, {only})) as srv:
        h.metrics(srv)
        used = {c for tid in os.listdir(f"/proc/{srv.proc.pid}/task")
                for c in os.sched_getaffinity(int(tid))}
        h.check(used == {only}, f"threads on CPUs {sorted(used)}, started on {only} only")

if __name__ == "__main__":
    h.main()
