#!/usr/bin/python3
"""Flame graph from `perf script` output: folds the call stacks, then draws an SVG
(root at the bottom, width proportional to samples, hover for counts).

Usage: perf script -i perf.data | flamegraph.py [--title T] [--folded OUT.folded] > out.svg
       flamegraph.py --from-folded IN.folded > out.svg
"""
import argparse
import html
import re
import sys
import zlib

WIDTH, ROW, FONT, MIN_PX = 1200, 16, 11, 0.3


def fold_perf_script(lines):
    """perf script text -> {"comm;root;...;leaf": samples}."""
    stacks = {}
    comm, frames = None, []

    def flush():
        if comm is not None:
            key = ";".join([comm] + frames[::-1])
            stacks[key] = stacks.get(key, 0) + 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
        elif not line[0].isspace():
            flush()
            comm, frames = line.split()[0], []
        elif comm is not None:
            # "\t ffffffff81234567 func+0x1f (/path/dso)"
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                continue
            sym = parts[1]
            dso = ""
            m = re.match(r"^(.*) \((.*)\)$", sym)
            if m:
                sym, dso = m.group(1), m.group(2)
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if sym in ("[unknown]", ""):
                sym = f"[{dso.rsplit('/', 1)[-1]}]" if dso else "[unknown]"
            frames.append(sym.replace(";", ":"))
    flush()
    return stacks


def build_tree(stacks):
    root = {"name": "all", "value": 0, "children": {}}
    for stack, n in stacks.items():
        root["value"] += n
        node = root
        for name in stack.split(";"):
            child = node["children"].setdefault(name, {"name": name, "value": 0, "children": {}})
            child["value"] += n
            node = child
    return root


def depth_of(node):
    return 1 + max((depth_of(c) for c in node["children"].values()), default=0)


def color(name):
    h = zlib.crc32(name.encode())
    if "[k]" in name or name.startswith(("__", "tcp_", "io_", "sock_", "sys_", "do_", "entry_")):
        return f"rgb({200 + h % 55},{120 + h % 60},{40 + h % 40})"  # kernel-ish: orange
    return f"rgb({225 + h % 30},{80 + (h >> 8) % 120},{50 + (h >> 16) % 40})"


def render(root, title):
    total = root["value"] or 1
    depth = depth_of(root)
    height = (depth + 3) * ROW
    scale = (WIDTH - 20) / total
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="monospace" font-size="{FONT}">',
           f'<rect width="100%" height="100%" fill="#f8f8f0"/>',
           f'<text x="{WIDTH / 2}" y="{ROW}" text-anchor="middle" font-size="{FONT + 3}">'
           f'{html.escape(title)} ({total} samples)</text>']

    def draw(node, x, level):
        w = node["value"] * scale
        if w < MIN_PX:
            return
        y = height - (level + 1) * ROW - 4
        pct = 100.0 * node["value"] / total
        label = html.escape(node["name"])
        out.append(f'<g><title>{label} ({node["value"]} samples, {pct:.2f}%)</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" height="{ROW - 1}" '
                   f'fill="{color(node["name"])}" rx="2"/>')
        chars = int(w / (FONT * 0.62))
        if chars >= 3:
            text = node["name"] if len(node["name"]) <= chars else node["name"][:chars - 2] + ".."
            out.append(f'<text x="{x + 3:.2f}" y="{y + ROW - 5}">{html.escape(text)}</text>')
        out.append("</g>")
        cx = x
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            draw(child, cx, level + 1)
            cx += child["value"] * scale

    draw(root, 10, 0)
    out.append("</svg>")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--title", default="Flame graph")
    p.add_argument("--folded", help="also write the folded stacks here")
    p.add_argument("--from-folded", help="read folded stacks instead of perf script on stdin")
    a = p.parse_args()
    if a.from_folded:
        stacks = {}
        with open(a.from_folded) as f:
            for line in f:
                stack, _, n = line.rstrip("\n").rpartition(" ")
                if stack:
                    stacks[stack] = stacks.get(stack, 0) + int(n)
    else:
        stacks = fold_perf_script(sys.stdin)
    if a.folded:
        with open(a.folded, "w") as f:
            for stack, n in sorted(stacks.items()):
                f.write(f"{stack} {n}\n")
    if not stacks:
        print("flamegraph: no samples", file=sys.stderr)
        sys.exit(1)
    sys.stdout.write(render(build_tree(stacks), a.title))


if __name__ == "__main__":
    main()
