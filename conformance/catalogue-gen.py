#!/usr/bin/env python3
"""Regenerates conformance/src/checks/catalogue.rs from the catalogue's Part B tables.

Usage: python3 conformance/catalogue-gen.py ../shared/reference/conformance-catalogue.md
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/conformance-catalogue.md").read_text()
part = src[src.index("## Part B"):src.index("### B.20")]
rows = []
for line in part.splitlines():
    m = re.match(r"^\| ([A-Z]+(?:-[A-Z]+)?-L?\d+) \| (.*?) \| (.*?) \| (.*?) \| (.*?) \|$", line)
    if m:
        rows.append(m.groups())


def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def area(i):
    return re.sub(r"-L?\d+$", "", i)


def lvl(l):
    l0 = l.strip()
    for prefix, name in [("MUST*", "MustStar"), ("MUST", "Must"), ("SHOULD", "Should"), ("MAY", "May"), ("DERIVED", "Derived"), ("INFO", "Info")]:
        if l0.startswith(prefix):
            return name
    raise SystemExit(f"unknown level {l}")


out = [
    "//! The check catalogue (generated from conformance-catalogue.md Part B: id, area, level, mode, one-line assertion).",
    "//! Regenerate with `conformance/catalogue-gen.py`; do not edit by hand.",
    "",
    "use super::{CheckDef, Level};",
    "",
    "/// Every check in the catalogue, in catalogue order.",
    "pub static CATALOGUE: &[CheckDef] = &[",
]
for i, a, l, s, m in rows:
    a = re.sub(r"\*\*", "", a).replace("`", "")
    mode = m.split(";")[0].strip()
    out.append(
        f'    CheckDef {{ id: "{i}", area: "{area(i)}", level: Level::{lvl(l)}, level_text: "{esc(l.strip())}", '
        f'mode: "{esc(mode)}", source: "{esc(s.strip())}", assertion: "{esc(a.strip())}" }},'
    )
out.append("];")
Path(__file__).with_name("src").joinpath("checks/catalogue.rs").write_text("\n".join(out) + "\n")
print(f"{len(rows)} checks")
