#!/usr/bin/env python3
"""Counts per area: implemented / passing on the mock / passing on oidc-provider.

Usage: cargo run -q -p conformance -- list > /tmp/list.txt
       python3 conformance/scripts/counts.py /tmp/list.txt fixtures/conformance/mock.json fixtures/conformance/oidc-provider.json
"""
import json
import sys

listing, mock, peer = sys.argv[1:4]
areas, total, impl = [], {}, {}
for line in open(listing):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 5:
        continue
    cid, area, implemented = parts[0], parts[1], parts[4] == "yes"
    if area not in total:
        areas.append(area)
        total[area] = impl[area] = 0
    total[area] += 1
    impl[area] += implemented


def per_area(path):
    out = {}
    for r in json.load(open(path))["results"]:
        c = out.setdefault(r["area"], {"pass": 0, "deviation": 0, "ran": 0})
        if r["status"] == "pass":
            c["pass"] += 1
        if r["status"] == "deviation":
            c["deviation"] += 1
        if r["status"] in ("pass", "fail", "warn", "info", "deviation"):
            c["ran"] += 1
    return out


m, p = per_area(mock), per_area(peer)
print("| Area | catalogue | implemented | mock: pass / ran (deviations) | oidc-provider: pass / ran (deviations) |")
print("|---|---:|---:|---:|---:|")
sums = [0, 0, 0, 0, 0, 0, 0, 0]
for a in areas:
    mm, pp = m.get(a, {"pass": 0, "ran": 0, "deviation": 0}), p.get(a, {"pass": 0, "ran": 0, "deviation": 0})
    print(f"| {a} | {total[a]} | {impl[a]} | {mm['pass']} / {mm['ran']} ({mm['deviation']}) | {pp['pass']} / {pp['ran']} ({pp['deviation']}) |")
    for i, v in enumerate([total[a], impl[a], mm["pass"], mm["ran"], mm["deviation"], pp["pass"], pp["ran"], pp["deviation"]]):
        sums[i] += v
print(f"| **total** | {sums[0]} | {sums[1]} | {sums[2]} / {sums[3]} ({sums[4]}) | {sums[5]} / {sums[6]} ({sums[7]}) |")
