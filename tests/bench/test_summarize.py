#!/usr/bin/python3
"""bench/load/tools/summarize.py, which turns a bench run's JSON into the README's table:
the median fan-out run, the kernel floor from loopback_bench, the sweep's highest rate and
the ratios, each from files written here the way bench.sh and Google Benchmark write them."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "load", "tools"))
import summarize  # noqa: E402


def report(ns_per_delivery=200.0, deliveries_per_s=1e6, p99_us=5000.0, lost=0):
    """The fields of a ringcast-load --json report that summarize reads."""
    return {"deliveries_per_s": deliveries_per_s, "deliveries": 1000, "lost": lost,
            "latency_us": {"p50": p99_us / 2, "p99": p99_us},
            "connections": {"per_s": 1000.0, "failed": 0},
            "server": {"cpu_ns_per_delivery": ns_per_delivery, "cpu_utilization": 0.5,
                       "rss_per_connection": 900.0}}


class Summarize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, doc):
        with open(os.path.join(self.dir, name), "w") as f:
            json.dump(doc, f)

    def test_fanout_row_is_the_median_run(self):
        for i, ns in enumerate((250.0, 200.0, 300.0), 1):
            self.write(f"ringcast.fanout-run{i}.json", report(ns_per_delivery=ns))
        self.assertEqual(summarize.median_run(self.dir, "ringcast")["server"]["cpu_ns_per_delivery"], 250.0)

    def test_even_number_of_runs_takes_the_lower_middle(self):
        for i, ns in enumerate((300.0, 200.0), 1):
            self.write(f"ringcast.fanout-run{i}.json", report(ns_per_delivery=ns))
        self.assertEqual(summarize.median_run(self.dir, "ringcast")["server"]["cpu_ns_per_delivery"], 200.0)

    def test_single_fanout_file_without_runs(self):
        self.write("ringcast.fanout.json", report(ns_per_delivery=210.0))
        self.assertEqual(summarize.median_run(self.dir, "ringcast")["server"]["cpu_ns_per_delivery"], 210.0)
        self.assertIsNone(summarize.median_run(self.dir, "websocketpp"))

    def test_floor_file_takes_medians_and_the_cheapest_loop_or_the_one_asked_for(self):
        runs = [
            # Repetitions and their aggregates: only the medians count.
            {"name": "BM_PassWrite/1000/44/0", "run_type": "iteration", "per_send": 1e-6},
            {"name": "BM_PassWrite/1000/44/0_median", "run_type": "aggregate", "aggregate_name": "median",
             "per_send": 9e-6},
            {"name": "BM_PassUringSend/1000/44/0_median", "run_type": "aggregate", "aggregate_name": "median",
             "per_send": 8e-6},
            {"name": "BM_PassUringSend/1000/44/0_mean", "run_type": "aggregate", "aggregate_name": "mean",
             "per_send": 1e-7},
            # A loop that failed reports no floor.
            {"name": "BM_PassUringSendFixed/1000/44/0_median", "aggregate_name": "median", "per_send": 1e-9,
             "error_occurred": True},
            {"name": "BM_PassWrite/8000/1/0_median", "aggregate_name": "median", "per_send": 1.2e-5},
            {"name": "BM_PassWrite/8000/1/300/iterations:10_median", "aggregate_name": "median",
             "per_send": 1.5e-5},
        ]
        self.write("micro-loopback_bench.json", {"context": {}, "benchmarks": runs})
        path = os.path.join(self.dir, "micro-loopback_bench.json")
        self.assertEqual(summarize.floor_file(path),
                         {(1000, 44, 0): 8e-6, (8000, 1, 0): 1.2e-5, (8000, 1, 300): 1.5e-5})
        self.assertEqual(summarize.floor_file(path, "BM_PassWrite"),
                         {(1000, 44, 0): 9e-6, (8000, 1, 0): 1.2e-5, (8000, 1, 300): 1.5e-5})
        self.assertEqual(summarize.floor_file(path, "BM_PassUringSendFixed"), {})

    def test_unreadable_floor_files_give_no_floor(self):
        for name, text in (("cut.json", '{"benchmarks": [{"name": "BM_PassWrite/1000/44/0", "per'),
                           ("list.json", "[1, 2]"), ("odd.json", '{"benchmarks": [3, {"name": 5}]}')):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
            self.assertEqual(summarize.floor_file(os.path.join(self.dir, name)), {}, name)

    def test_send_loop_compared_is_ringcasts_own_on_that_kernel(self):
        self.assertEqual(summarize.own_loop({"kernel": "6.18.44-fc-v782"}), "BM_PassUringSendFixed")
        self.assertEqual(summarize.own_loop({"kernel": "6.13.0"}), "BM_PassUringSendFixed")
        self.assertEqual(summarize.own_loop({"kernel": "6.12.9"}), "BM_PassUringSend")
        self.assertEqual(summarize.own_loop({}), "BM_PassUringSend")

    def write_rounds(self, ns_and_floor):
        for k, (ns, floor_ns) in enumerate(ns_and_floor, 1):
            self.write(f"ringcast.fanout-run{k}.json", report(ns_per_delivery=ns))
            self.write(f"floor-fanout-run{k}.json", {"benchmarks": [
                {"name": "BM_PassUringSendFixed/1000/44/0", "per_send": floor_ns * 44 / 1e9},
                {"name": "BM_PassUringSend/1000/44/0", "per_send": floor_ns * 2 * 44 / 1e9}]})

    def test_fanout_ratio_is_paired_round_by_round(self):
        self.write_rounds([(200.0, 200.0), (180.0, 160.0), (220.0, 200.0)])
        pairs = summarize.fanout_pairs(self.dir, {"kernel": "6.18.0"})
        self.assertEqual([(ns, round(fl, 6)) for ns, fl in pairs], [(200.0, 200.0), (180.0, 160.0), (220.0, 200.0)])
        rows = [summarize.collect(self.dir, "ringcast", {})]
        self.assertEqual(rows[0]["fanout_ns_per_delivery"], 200.0)  # the median round
        lines = summarize.floor_lines(self.dir, {"kernel": "6.18.0"}, rows)
        self.assertIn("200, 160, 200 ns per delivery; ringcast / floor per round: 1.00, 1.12, 1.10 (median 1.10x)",
                      lines[0])
        # Before 6.13 ringcast sends on plain descriptors: the other loop is its floor.
        self.assertIn("400, 320, 400 ns", summarize.floor_lines(self.dir, {"kernel": "6.1.0"}, rows)[0])

    def test_no_loopback_bench_no_floor(self):
        rows = [{"server": "ringcast", "label": "ringcast", "fanout_ns_per_delivery": 200.0}]
        self.assertEqual(summarize.floor_lines(self.dir, {}, rows), [])

    def test_floor_lines_without_rounds_and_the_shortest_pass(self):
        self.write("micro-loopback_bench.json", {"benchmarks": [
            {"name": "BM_PassUringSendFixed/1000/44/0", "per_send": 8.8e-6},
            {"name": "BM_PassWrite/1000/44/0", "per_send": 1e-6},  # cheaper, but not ringcast's loop
            {"name": "BM_PassUringSendFixed/8000/1/0", "per_send": 1.2e-5},
            {"name": "BM_PassWrite/8000/1/0", "per_send": 1.1e-5},
            {"name": "BM_PassUringSendFixed/8000/1/300/iterations:10", "per_send": 1.3e-5}]})
        rows = [{"server": "ringcast", "label": "ringcast", "fanout_ns_per_delivery": 250.0,
                 "danmaku_r1_p99_us": 147_000.0}]
        lines = summarize.floor_lines(self.dir, {"kernel": "6.18.0"}, rows)
        self.assertEqual(len(lines), 2)
        self.assertIn("8.8 us per send = 200 ns per delivery; ringcast 250 ns = 1.25x it", lines[0])
        self.assertIn("11.0 us per send back to back, 13.0 us after 300 ms of quiet", lines[1])
        self.assertIn("at least 110 ms (130 ms at a low rate; ringcast's p99 at 1 msg/s: 147 ms)", lines[1])

    def test_latency_cdf_data_files_for_the_chart(self):
        with_cdf = report()
        with_cdf["latency_us"]["cdf"] = [[500.0, 0.25], [1500.0, 0.5], [20000.0, 1.0]]
        self.write("ringcast.rate.json", with_cdf)
        self.write("websocketpp.rate.json", report())  # an older ringcast-load: no CDF, no curve
        out = summarize.write_cdfs(self.dir, ["ringcast", "websocketpp", "node-ws"],
                                   ["ringcast", "websocketpp", "node-ws"])
        self.assertEqual(out, [("ringcast", os.path.join(self.dir, "cdf-ringcast.dat"))])
        with open(out[0][1]) as f:
            lines = [line.split() for line in f if not line.startswith("#")]
        self.assertEqual(lines, [["0.5000", "0.250000"], ["1.5000", "0.500000"], ["20.0000", "1.000000"]])

    def test_held_needs_deliveries_nothing_lost_and_p99_under_100ms(self):
        self.assertTrue(summarize.held(report(p99_us=99_999)))
        self.assertFalse(summarize.held(report(p99_us=100_000)))
        self.assertFalse(summarize.held(report(p99_us=1_000, lost=1)))
        self.assertFalse(summarize.held(None))
        self.assertFalse(summarize.held({"lost": 0, "deliveries": 5, "latency_us": {"p99": None}}))
        empty = report(p99_us=1_000)
        empty["deliveries"] = 0
        self.assertFalse(summarize.held(empty))

    def test_sweep_best_is_the_highest_rate_under_100ms_with_nothing_lost(self):
        self.write("ringcast.danmaku-r1.json", report(p99_us=60_000))
        self.write("ringcast.danmaku-r3.json", report(p99_us=95_000))
        self.write("ringcast.danmaku-r10.json", report(p99_us=150_000))
        self.write("ringcast.danmaku-r30.json", report(p99_us=50_000, lost=1))  # lost one: not held
        self.assertEqual(summarize.sweep_best(self.dir, "ringcast"), 3.0)
        self.assertIsNone(summarize.sweep_best(self.dir, "websocketpp"))

    def test_small_room_sweep_is_its_own_column(self):
        self.write("ringcast.danmaku-r1.json", report(p99_us=150_000))
        self.write("ringcast.danmaku2000-r100.json", report(p99_us=40_000))
        self.write("ringcast.danmaku2000-r300.json", report(p99_us=90_000))
        self.write("ringcast.danmaku2000-r1000.json", report(p99_us=400_000))
        row = summarize.collect(self.dir, "ringcast", {"sweep_small_subscribers": 2000})
        self.assertIsNone(row["danmaku_max_rate_p99_100ms"])  # the 10,000 sweep ignores the small room
        self.assertEqual(row["small_room_max_rate_p99_100ms"], 300.0)
        self.assertIsNone(summarize.collect(self.dir, "ringcast", {})["small_room_max_rate_p99_100ms"])

    def test_rows_of_ringcast_variants_are_labelled_with_their_flags(self):
        self.assertEqual(summarize.label("ringcast", {}), "ringcast")
        self.assertEqual(summarize.label("ringcast-coalesce", {"ringcast_coalesce": "250ms"}),
                         "ringcast --coalesce 250ms")
        self.assertEqual(summarize.label("ringcast-epoll", {}), "ringcast --backend epoll")
        self.assertEqual(summarize.label("ringcast-wss", {}), "ringcast wss")
        self.assertEqual(summarize.label("websocketpp", {}), "websocketpp")

    def test_epoll_row_files_stay_its_own(self):
        # "ringcast-epoll.*" must not count as plain ringcast's rounds or sweep steps.
        self.write("ringcast.fanout-run1.json", report(ns_per_delivery=200.0))
        self.write("ringcast-epoll.fanout-run1.json", report(ns_per_delivery=400.0))
        self.write("ringcast-epoll.fanout-run2.json", report(ns_per_delivery=500.0))
        self.write("ringcast-epoll.danmaku-r10.json", report(p99_us=50_000))
        self.assertEqual(list(summarize.fanout_runs(self.dir, "ringcast")), [1])
        self.assertEqual(sorted(summarize.fanout_runs(self.dir, "ringcast-epoll")), [1, 2])
        self.assertIsNone(summarize.sweep_best(self.dir, "ringcast"))
        self.assertEqual(summarize.sweep_best(self.dir, "ringcast-epoll"), 10.0)

    def test_table_ratios_are_to_plain_ringcast(self):
        self.write("ringcast.fanout.json", report(ns_per_delivery=200.0, deliveries_per_s=4e6))
        self.write("websocketpp.fanout.json", report(ns_per_delivery=4000.0, deliveries_per_s=4e5))
        rows = [summarize.collect(self.dir, s, {}) for s in ("ringcast", "websocketpp")]
        text = summarize.table(rows)
        self.assertIn("400,000 (0.10x)", text)
        self.assertIn("4,000 (20.00x)", text)


class Command(unittest.TestCase):
    """summarize.py as bench.sh runs it."""

    def run_summarize(self, *args):
        script = os.path.join(os.path.dirname(summarize.__file__), "summarize.py")
        return subprocess.run(["/usr/bin/python3", script, *args], capture_output=True, text=True, timeout=60)

    def test_table_env_and_floor_lines_from_a_results_directory(self):
        with tempfile.TemporaryDirectory() as d:
            def write(name, doc):
                with open(os.path.join(d, name), "w") as f:
                    json.dump(doc, f)
            write("env.json", {"cpu": "AMD EPYC", "cpus": 2, "kernel": "6.18.0", "loadavg_1m": 0.5,
                               "seconds_per_scenario": 5.0, "git": "abc1234", "fanout_runs": 3,
                               "sweep_small_subscribers": 2000})
            for k, ns in enumerate((190.0, 180.0, 200.0), 1):
                write(f"ringcast.fanout-run{k}.json", report(ns_per_delivery=ns, deliveries_per_s=4e6))
                write(f"ringcast-epoll.fanout-run{k}.json", report(ns_per_delivery=ns * 2, deliveries_per_s=3e6))
                write(f"websocketpp.fanout-run{k}.json", report(ns_per_delivery=ns * 20, deliveries_per_s=2e5))
                write(f"floor-fanout-run{k}.json", {"benchmarks": [
                    {"name": "BM_PassUringSendFixed/1000/44/0", "per_send": 160 * 44 / 1e9}]})
            write("ringcast.danmaku2000-r100.json", report(p99_us=50_000))
            p = self.run_summarize(d)
            self.assertEqual(p.returncode, 0, p.stderr)
            # Found servers: ringcast, its variants, then the peers; ratios to plain ringcast.
            rows = [line.split("  ")[0] for line in p.stdout.splitlines()[1:4]]
            self.assertEqual(rows, ["ringcast", "ringcast --backend epoll", "websocketpp"])
            self.assertIn("ringcast --backend epoll  3,000,000 (0.75x)  380 (2.00x)", p.stdout)
            self.assertIn("websocketpp               200,000 (0.05x)    3,800 (20.00x)", p.stdout)
            self.assertIn("git abc1234; fan-out: median of 3 interleaved runs", p.stdout)
            self.assertIn("(small room: the danmaku sweep at 2,000 subscribers, 20 publishers)", p.stdout)
            # The floor pairs with the uring row only (bench.sh measures it right after ringcast).
            self.assertIn("ringcast / floor per round: 1.19, 1.12, 1.25 (median 1.19x)", p.stdout)
            with open(os.path.join(d, "summary.json")) as f:
                summary = json.load(f)
            self.assertEqual(summary[0]["small_room_max_rate_p99_100ms"], 100.0)
            self.assertEqual((summary[1]["server"], summary[1]["label"], summary[1]["fanout_ns_per_delivery"]),
                             ("ringcast-epoll", "ringcast --backend epoll", 380.0))

    def test_held_exit_status(self):
        with tempfile.TemporaryDirectory() as d:
            ok, slow = os.path.join(d, "ok.json"), os.path.join(d, "slow.json")
            with open(ok, "w") as f:
                json.dump(report(p99_us=50_000), f)
            with open(slow, "w") as f:
                json.dump(report(p99_us=150_000), f)
            self.assertEqual(self.run_summarize("--held", ok).returncode, 0)
            self.assertEqual(self.run_summarize("--held", slow).returncode, 1)
            self.assertEqual(self.run_summarize("--held", os.path.join(d, "missing.json")).returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
