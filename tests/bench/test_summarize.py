#!/usr/bin/python3
"""bench/load/tools/summarize.py, which turns a bench run's JSON into the README's table:
the median fan-out run, the kernel floor from loopback_bench, the sweep's highest rate and
the ratios, each from files written here the way bench.sh and Google Benchmark write them."""
import json
import os
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

    def test_kernel_floor_takes_medians_and_the_cheapest_loop(self):
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
            {"name": "BM_PassWrite/8000/1/300/iterations:5_median", "aggregate_name": "median",
             "per_send": 1.5e-5},
        ]
        self.write("micro-loopback_bench.json", {"context": {}, "benchmarks": runs})
        self.assertEqual(summarize.kernel_floor(self.dir),
                         {(1000, 44, 0): 8e-6, (8000, 1, 0): 1.2e-5, (8000, 1, 300): 1.5e-5})

    def test_fanout_floor_is_the_median_of_the_interleaved_rounds(self):
        self.write("micro-loopback_bench.json", {"benchmarks": [
            {"name": "BM_PassWrite/1000/44/0", "per_send": 5e-6},
            {"name": "BM_PassWrite/8000/1/0", "per_send": 1e-5}]})
        for i, per_send in enumerate((9e-6, 7e-6, 8e-6), 1):
            self.write(f"floor-fanout-run{i}.json", {"benchmarks": [
                {"name": "BM_PassWrite/1000/44/0", "per_send": per_send + 1e-6},
                {"name": "BM_PassUringSendFixed/1000/44/0", "per_send": per_send}]})
        self.assertEqual(summarize.kernel_floor(self.dir), {(1000, 44, 0): 8e-6, (8000, 1, 0): 1e-5})

    def test_no_loopback_bench_no_floor(self):
        self.assertEqual(summarize.kernel_floor(self.dir), {})
        self.assertEqual(summarize.floor_lines({}, [{"server": "ringcast", "label": "ringcast",
                                                      "fanout_ns_per_delivery": 200.0}]), [])

    def test_floor_lines_give_the_ratio_and_the_shortest_pass(self):
        rows = [{"server": "ringcast", "label": "ringcast", "fanout_ns_per_delivery": 250.0,
                 "danmaku_r1_p99_us": 147_000.0}]
        lines = summarize.floor_lines({(1000, 44, 0): 8.8e-6, (8000, 1, 0): 1.1e-5, (8000, 1, 300): 1.3e-5}, rows)
        self.assertEqual(len(lines), 2)
        self.assertIn("8.8 us per send = 200 ns per delivery; ringcast 250 ns = 1.25x it", lines[0])
        self.assertIn("11.0 us per send back to back, 13.0 us after 300 ms of quiet", lines[1])
        self.assertIn("at least 110 ms (130 ms at a low rate; ringcast's p99 at 1 msg/s: 147 ms)", lines[1])

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

    def test_table_ratios_are_to_plain_ringcast(self):
        self.write("ringcast.fanout.json", report(ns_per_delivery=200.0, deliveries_per_s=4e6))
        self.write("websocketpp.fanout.json", report(ns_per_delivery=4000.0, deliveries_per_s=4e5))
        rows = [summarize.collect(self.dir, s, {}) for s in ("ringcast", "websocketpp")]
        text = summarize.table(rows)
        self.assertIn("400,000 (0.10x)", text)
        self.assertIn("4,000 (20.00x)", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
