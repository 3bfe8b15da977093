#!/usr/bin/python3
"""Folds the ringcast-load JSON files of one bench run into one table (ratios to ringcast),
summary.json, and a PNG chart (gnuplot): fan-out throughput bars, latency percentile bars and the
open-loop latency CDF.

Usage: summarize.py RESULTS_DIR [SERVER ...]
       summarize.py --held FILE   (exit 0 when that sweep step held: p99 < 100 ms, 0 lost)
Reads RESULTS_DIR/<server>.<scenario>.json for scenarios fanout (or the median of the rounds
fanout-run<N>), connect, rate, danmaku, the sweeps danmaku-r<rate> and danmaku<SUBS>-r<rate>
(the smaller room, SUBS from env.json), micro-loopback_bench.json and floor-fanout-run<N>.json
(the kernel floor, printed under the table); servers default to the ones found, ringcast
first. Ratios are to plain ringcast when it is among them (else to the first server);
"ringcast-coalesce" (bench.sh: ringcast --announce off --coalesce W, W from env.json) and
"ringcast-epoll" (ringcast --announce off --backend epoll) are labelled with their flags,
"ringcast-wss" (the same over TLS) as "ringcast wss".
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

SCENARIOS = ("fanout", "connect", "rate", "danmaku")

def label(server, env):
    """A row's label: its name, or what ran where the name alone would not say (bench.sh
    records ringcast-coalesce's window in env.json)."""
    if server == "ringcast-coalesce":
        return f"ringcast --coalesce {env.get('ringcast_coalesce', '?')}"
    if server == "ringcast-epoll":
        return "ringcast --backend epoll"
    if server == "ringcast-wss":
        return "ringcast wss"
    return server


def read_json(path):
    """The JSON object in path, or None (missing, unreadable, cut short, not an object)."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def load(results, server, scenario):
    return read_json(os.path.join(results, f"{server}.{scenario}.json"))


def lower_median(values, key=None):
    """The median (by `key`), the lower middle one of an even count; None for none."""
    values = sorted(values, key=key)
    return values[(len(values) - 1) // 2] if values else None


def get(doc, *keys):
    for k in keys:
        if doc is None or not isinstance(doc, dict):
            return None
        doc = doc.get(k)
    return doc


def held(doc):
    """A sweep step the server held: something delivered, nothing lost, p99 under 100 ms
    (bench.sh stops a sweep at the first step that is not, through --held)."""
    p99 = get(doc, "latency_us", "p99")
    return (doc is not None and doc.get("lost") == 0 and isinstance(p99, (int, float)) and p99 < 100_000
            and (doc.get("deliveries") or 0) > 0)


def sweep_best(results, server, tag="danmaku"):
    """Highest rate of a sweep (<server>.<tag>-r<rate>.json) the server held."""
    best = None
    for path in glob.glob(os.path.join(results, f"{server}.{tag}-r*.json")):
        m = re.search(rf"\.{re.escape(tag)}-r([0-9.]+)\.json$", path)
        if m is not None and held(read_json(path)) and (best is None or float(m.group(1)) > best):
            best = float(m.group(1))
    return best


def fanout_runs(results, server):
    """{round: report} of the fan-out rounds (bench.sh BENCH_RUNS, <server>.fanout-run<N>.json)
    that carry the server's CPU per delivery."""
    runs = {}
    for path in glob.glob(os.path.join(results, f"{server}.fanout-run*.json")):
        m = re.search(r"\.fanout-run(\d+)\.json$", path)
        doc = read_json(path)
        if m is not None and isinstance(get(doc, "server", "cpu_ns_per_delivery"), (int, float)):
            runs[int(m.group(1))] = doc
    return runs


def median_run(results, server):
    """The fan-out result: of several rounds the median one by server CPU per delivery, else
    <server>.fanout.json."""
    runs = fanout_runs(results, server)
    if not runs:
        return load(results, server, "fanout")
    return lower_median(runs.values(), key=lambda doc: doc["server"]["cpu_ns_per_delivery"])


def collect(results, server, env):
    f = median_run(results, server)
    c, r, d = (load(results, server, s) for s in SCENARIOS[1:])
    return {
        "server": server,
        "label": label(server, env),
        "fanout_deliveries_per_s": get(f, "deliveries_per_s"),
        "fanout_ns_per_delivery": get(f, "server", "cpu_ns_per_delivery"),
        "fanout_lost": get(f, "lost"),
        "rate_p50_us": get(r, "latency_us", "p50"),
        "rate_p99_us": get(r, "latency_us", "p99"),
        "rate_lost": get(r, "lost"),
        "bytes_per_connection": get(c, "server", "rss_per_connection"),
        "connects_per_s": get(c, "connections", "per_s"),
        "connect_failed": get(c, "connections", "failed"),
        "danmaku_deliveries_per_s": get(d, "deliveries_per_s"),
        "danmaku_p99_us": get(d, "latency_us", "p99"),
        "danmaku_lost": get(d, "lost"),
        "danmaku_cpu": get(d, "server", "cpu_utilization"),
        "danmaku_max_rate_p99_100ms": sweep_best(results, server),
        "small_room_max_rate_p99_100ms": (sweep_best(results, server, f"danmaku{env['sweep_small_subscribers']}")
                                          if env.get("sweep_small_subscribers") else None),
        "danmaku_r1_p99_us": get(load(results, server, "danmaku-r1"), "latency_us", "p99"),
    }


FANOUT_SHAPE = (1000, 44, 0)  # 44 messages per send to 1,000 sockets: what the closed loop combines


def floor_file(path, loop=None):
    """One loopback_bench JSON file: for each shape (connections, messages per send, ms of rest
    before each pass), seconds per send of the given send loop (BM_PassWrite,
    BM_PassUringSend, BM_PassUringSendFixed), or of the cheapest; medians when repeated."""
    runs = (read_json(path) or {}).get("benchmarks")
    if not isinstance(runs, list):
        return {}
    runs = [b for b in runs if isinstance(b, dict)]
    if any(b.get("aggregate_name") == "median" for b in runs):
        runs = [b for b in runs if b.get("aggregate_name") == "median"]
    best = {}
    for b in runs:
        m = re.match(r"(BM_Pass\w+)/(\d+)/(\d+)/(\d+)", str(b.get("name", "")))
        if m is None or not isinstance(b.get("per_send"), (int, float)) or b.get("error_occurred"):
            continue
        if loop is not None and m.group(1) != loop:
            continue
        shape = tuple(int(g) for g in m.groups()[1:])
        best[shape] = min(best.get(shape, float("inf")), b["per_send"])
    return best


def own_loop(env):
    """loopback_bench's loop that sends the way ringcast does on the measured kernel: io_uring
    sends, on registered files from Linux 6.13 (engine/uring_backend.cpp)."""
    m = re.match(r"(\d+)\.(\d+)", str(env.get("kernel", "")))
    return "BM_PassUringSendFixed" if m and (int(m.group(1)), int(m.group(2))) >= (6, 13) else "BM_PassUringSend"


def fanout_pairs(results, env, server="ringcast"):
    """[(server ns/delivery, floor ns/delivery)] for each fan-out round that has both: bench.sh
    measures the floor (ringcast's own send loop) right after ringcast in every round."""
    pairs = []
    for k, doc in sorted(fanout_runs(results, server).items()):
        per_send = floor_file(os.path.join(results, f"floor-fanout-run{k}.json"), own_loop(env)).get(FANOUT_SHAPE)
        if per_send:
            pairs.append((doc["server"]["cpu_ns_per_delivery"], per_send / FANOUT_SHAPE[1] * 1e9))
    return pairs


def floor_lines(results, env, rows):
    """What the floor means for the table: ringcast's fan-out cost per delivery over the floor
    of its own send loop (paired round by round when bench.sh ran rounds), and the shortest
    possible pass over 10,000 subscribers by any loop, back to back and after a pause (beside
    the 1 msg/s p99)."""
    out = []
    base = base_row(rows)
    micro = os.path.join(results, "micro-loopback_bench.json")
    pairs = fanout_pairs(results, env, base["server"])
    if pairs:
        ratios = [ns / fl for ns, fl in pairs]
        out.append(f"kernel floor, fan-out ({own_loop(env)}, 44 messages per send to 1,000 sockets, measured "
                   f"after {base['label']} in each round): "
                   + ", ".join(f"{fl:,.0f}" for _, fl in pairs) + f" ns per delivery; {base['label']} / floor "
                   f"per round: {', '.join(f'{r:.2f}' for r in ratios)} (median {lower_median(ratios):.2f}x)")
    else:
        fan = floor_file(micro, own_loop(env)).get(FANOUT_SHAPE)
        ns = base.get("fanout_ns_per_delivery")
        if fan:
            per_msg = fan / FANOUT_SHAPE[1] * 1e9
            vs = f"; {base['label']} {ns:,.0f} ns = {ns / per_msg:.2f}x it" if ns else ""
            out.append(f"kernel floor, fan-out ({own_loop(env)}, 44 messages per send to 1,000 sockets): "
                       f"{fan * 1e6:.1f} us per send = {per_msg:,.0f} ns per delivery{vs}")
    floor = floor_file(micro)
    warm, quiet = floor.get((8000, 1, 0)), floor.get((8000, 1, 300))
    if warm:
        line = (f"kernel floor, danmaku (cheapest loop): one message to each of 8,000 sockets costs "
                f"{warm * 1e6:.1f} us per send back to back")
        if quiet:
            line += f", {quiet * 1e6:.1f} us after 300 ms of quiet"
        line += f": a pass over 10,000 subscribers on one core takes at least {warm * 1e7:,.0f} ms"
        if quiet:
            line += f" ({quiet * 1e7:,.0f} ms at a low rate"
            p99 = base.get("danmaku_r1_p99_us")
            line += f"; {base['label']}'s p99 at 1 msg/s: {p99 / 1000:,.0f} ms)" if p99 else ")"
        out.append(line)
    return out


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float) and v < 10 and unit != "":
        return f"{v:.2f}{unit}"
    return f"{v:,.0f}{unit}"


def ratio(v, base):
    if v is None or not base:
        return ""
    return f" ({v / base:.2f}x)"


COLUMNS = [
    ("fanout deliv/s", "fanout_deliveries_per_s", ""),
    ("ns/deliv", "fanout_ns_per_delivery", ""),
    ("rate p50 us", "rate_p50_us", ""),
    ("rate p99 us", "rate_p99_us", ""),
    ("B/conn", "bytes_per_connection", ""),
    ("conn/s", "connects_per_s", ""),
    ("danmaku deliv/s", "danmaku_deliveries_per_s", ""),
    ("danmaku p99 us", "danmaku_p99_us", ""),
    ("danmaku lost", "danmaku_lost", ""),
    ("danmaku cpu", "danmaku_cpu", ""),
    ("max msg/s p99<100ms", "danmaku_max_rate_p99_100ms", ""),
    ("same, small room", "small_room_max_rate_p99_100ms", ""),  # BENCH_SWEEP_SUBS subscribers
]


def base_row(rows):
    """The row ratios are taken to: plain ringcast, not its --coalesce, epoll or wss variant."""
    return next((r for r in rows if r["server"] == "ringcast"), rows[0])


def table(rows):
    base = base_row(rows)
    header = ["server"] + [c[0] for c in COLUMNS]
    lines = []
    for row in rows:
        cells = [row["label"]]
        for _, key, _ in COLUMNS:
            v = row[key]
            if key == "danmaku_cpu":
                cells.append("-" if v is None else f"{v * 100:.0f}%")
            elif key in ("danmaku_lost",):
                cells.append(fmt(v))
            else:
                cells.append(fmt(v) + (ratio(v, base[key]) if row is not base else ""))
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)) for cells in lines]
    return "\n".join(out)


def write_cdfs(results, servers, labels):
    """One data file per server whose open-loop (rate) run has a latency CDF (ringcast-load
    --json latency_us.cdf): "milliseconds fraction" lines, cdf-<server>.dat. Returns
    [(label, path)] in the table's order."""
    out = []
    for server, name in zip(servers, labels):
        cdf = get(load(results, server, "rate"), "latency_us", "cdf")
        if not isinstance(cdf, list) or not cdf:
            continue
        path = os.path.join(results, f"cdf-{server}.dat")
        with open(path, "w") as f:
            f.write(f"# {name}: latency ms, fraction of deliveries at or below it\n")
            for point in cdf:
                if isinstance(point, list) and len(point) == 2:
                    f.write(f"{point[0] / 1000.0:.4f} {point[1]:.6f}\n")
        out.append((name, path))
    return out


def chart(results, rows):
    if shutil.which("gnuplot") is None:
        print("summarize: gnuplot not found, no chart", file=sys.stderr)
        return
    cdfs = write_cdfs(results, [r["server"] for r in rows], [r["label"] for r in rows])
    dat = os.path.join(results, "chart.dat")
    with open(dat, "w") as f:
        f.write("# server fanout_deliveries_per_s rate_p50_ms rate_p99_ms danmaku_p99_ms\n")
        for r in rows:
            ms = lambda v: (v or 0) / 1000.0  # noqa: E731
            # Quoted: a label may hold spaces; the chart breaks it at its first space.
            f.write(f"\"{r['label']}\" {r['fanout_deliveries_per_s'] or 0} {ms(r['rate_p50_us'])} "
                    f"{ms(r['rate_p99_us'])} {ms(r['danmaku_p99_us'])}\n")
    # A panel only when it has something to draw (a subset run, e.g. BENCH_SCENARIOS=connect,
    # has neither: gnuplot refuses an all-zero log axis).
    has_fanout = any((r["fanout_deliveries_per_s"] or 0) > 0 for r in rows)
    has_latency = any((r[k] or 0) > 0 for r in rows for k in ("rate_p50_us", "rate_p99_us", "danmaku_p99_us"))
    if not (has_fanout or has_latency):
        print("summarize: no fan-out or latency results, no chart", file=sys.stderr)
        return
    png = os.path.join(results, "bench.png")
    fanout_panel = f"""
set title 'fan-out: 1,000 subscribers, 1 publisher, 64 B, closed loop (window 64)'
set ylabel 'deliveries / s'
set format y '%.1s%c'
plot '{dat}' using 2:xtic(tick(strcol(1))) title 'deliveries/s' lc rgb '#3366cc'
""" if has_fanout else ""
    latency_panel = f"""
set title 'latency (open loop): 50 msg/s to 1,000 subs; danmaku 30 msg/s to 10,000'
set ylabel 'milliseconds (log)'
set logscale y
set format y '%g'
plot '{dat}' using 3:xtic(tick(strcol(1))) title 'rate p50' lc rgb '#66aa55', \\
     '' using 4 title 'rate p99' lc rgb '#dd8833', \\
     '' using 5 title 'danmaku p99' lc rgb '#cc3333'
""" if has_latency else ""
    # The latency CDF of the open-loop run, a line per server (each server's own axis
    # settings: the bar panels above set histogram styles and label ticks).
    curves = ", ".join(f"'{path}' using 1:2 with steps lw 2 title '{name}'" for name, path in cdfs)
    cdf_panel = f"""
set title 'latency CDF (open loop): 50 msg/s to 1,000 subscribers'
unset logscale y
set logscale x
set xtics auto
set format x '%g'
set xlabel 'milliseconds (log)'
set ylabel 'fraction of deliveries'
set format y '%.1f'
set yrange [0:1]
set key right bottom vertical inside
plot {curves}
""" if cdfs else ""
    panels = int(has_fanout) + int(has_latency) + int(bool(cdfs))
    width = 800 * panels
    script = f"""
set terminal pngcairo size {width},520 noenhanced font ',10'
set output '{png}'
set multiplot layout 1,{panels} title 'ringcast vs peers (same machine, server on core 0, load on core 1)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
# Legends go under the plot, outside it: inside, the fan-out one sat on ringcast's bar,
# and whichever bar is tallest always reaches the top of the axis. `height` keeps the key
# clear of the x labels.
set key below center horizontal samplen 2 height 3
# "ringcast --coalesce 250ms" on two lines, so it does not run into its neighbours' labels.
tick(s) = strstrt(s, ' ') > 0 ? s[1:strstrt(s, ' ') - 1] . "\\n" . s[strstrt(s, ' ') + 1:] : s
{fanout_panel}{latency_panel}{cdf_panel}unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        # pngcairo may be missing in minimal gnuplot builds: fall back to the plain png terminal.
        script = script.replace(f"pngcairo size {width},520 noenhanced font ',10'", f"png size {width},520 noenhanced")
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print(f"summarize: gnuplot failed: {e.stderr.strip()} / {r.stderr.strip()}", file=sys.stderr)
            return
    print(f"chart: {png}")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "--held":  # bench.sh: did this sweep step hold? (exit status)
        sys.exit(0 if len(sys.argv) == 3 and held(read_json(sys.argv[2])) else 1)
    results = sys.argv[1]
    servers = sys.argv[2:]
    if not servers:
        found = sorted({os.path.basename(p).split(".")[0] for p in glob.glob(os.path.join(results, "*.*.json"))})
        # ringcast, then its variants (ringcast-coalesce, -epoll, -wss), then the peers.
        servers = sorted(found, key=lambda s: (s != "ringcast", not s.startswith("ringcast"), s))
    env = read_json(os.path.join(results, "env.json")) or {}
    rows = [collect(results, s, env) for s in servers]
    if not rows:
        print("summarize: no results", file=sys.stderr)
        sys.exit(1)
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(rows, f, indent=2)
    print(table(rows))
    print(f"(ratios are value / {base_row(rows)['label']}'s; lower is better for ns, us and B/conn)")
    try:
        runs = env.get("fanout_runs")
        print(f"measured on {env['cpu']} x{env['cpus']}, Linux {env['kernel']}, load average {env['loadavg_1m']} "
              f"at start, {env['seconds_per_scenario']} s per scenario, git {env['git']}"
              + (f"; fan-out: median of {runs} interleaved runs" if isinstance(runs, int) and runs > 1 else ""))
    except KeyError:
        pass
    if env.get("sweep_small_subscribers"):
        print(f"(small room: the danmaku sweep at {env['sweep_small_subscribers']:,} subscribers, 20 publishers)")
    for line in floor_lines(results, env, rows):
        print(line)
    chart(results, rows)


if __name__ == "__main__":
    main()
