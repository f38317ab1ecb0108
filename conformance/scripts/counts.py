#!/usr/bin/env python3
"""Counts per area: implemented, then pass / ran (documented deviations) for each recorded run.

Usage: cargo run -q -p conformance -- list > /tmp/list.txt
       python3 conformance/scripts/counts.py /tmp/list.txt fixtures/conformance/mock.json fixtures/conformance/oidc-provider.json ...
"""
import json
import sys

listing, runs = sys.argv[1], sys.argv[2:]
areas, total, impl = [], {}, {}
for line in open(listing):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 5:
        continue
    area, implemented = parts[1], parts[4] == "yes"
    if area not in total:
        areas.append(area)
        total[area] = impl[area] = 0
    total[area] += 1
    impl[area] += implemented


def per_area(path):
    doc = json.load(open(path))
    out = {}
    for r in doc["results"]:
        c = out.setdefault(r["area"], [0, 0, 0])
        c[0] += r["status"] == "pass"
        c[1] += r["status"] in ("pass", "fail", "warn", "info", "deviation")
        c[2] += r["status"] == "deviation"
    return doc["target"], out


loaded = [per_area(p) for p in runs]
print("| Area | catalogue | implemented | " + " | ".join(f"{name}: pass / ran (dev.)" for name, _ in loaded) + " |")
print("|---|---:|---:|" + "---:|" * len(loaded))
sums = [0, 0] + [[0, 0, 0] for _ in loaded]
for a in areas:
    cells = []
    for i, (_, d) in enumerate(loaded):
        p, r, dv = d.get(a, [0, 0, 0])
        cells.append(f"{p} / {r} ({dv})")
        for k, v in enumerate((p, r, dv)):
            sums[2 + i][k] += v
    sums[0] += total[a]
    sums[1] += impl[a]
    print(f"| {a} | {total[a]} | {impl[a]} | " + " | ".join(cells) + " |")
print(f"| **total** | {sums[0]} | {sums[1]} | " + " | ".join(f"{p} / {r} ({dv})" for p, r, dv in sums[2:]) + " |")
