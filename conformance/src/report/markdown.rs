//! A Markdown summary for a pull request: totals, a table per area, and the
//! failures, warnings and deviations with their evidence.

use std::fmt::Write as _;

use crate::checks::Status;
use crate::runner::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown text.
pub fn render(report: &Report) -> String {
    let t = report.totals();
    let mut s = String::new();
    let _ = writeln!(s, "## Conformance: {}\n", cell(&report.target));
    let _ = writeln!(
        s,
        "Issuer `{}` — **{}**: {} pass, {} fail, {} warn, {} documented deviations, {} info, {} skipped, {} not implemented ({} ms).\n",
        report.issuer,
        if report.ok() {
            "no MUST failed"
        } else {
            "MUST failures"
        },
        t.pass,
        t.fail,
        t.warn,
        t.deviation,
        t.info,
        t.skip,
        t.not_implemented,
        report.duration_ms
    );
    s.push_str("| Area | pass | fail | warn | deviation | info | skip | n/i |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (a, c) in report.by_area() {
        let _ = writeln!(
            s,
            "| {a} | {} | {} | {} | {} | {} | {} | {} |",
            c.pass, c.fail, c.warn, c.deviation, c.info, c.skip, c.not_implemented
        );
    }
    for (title, status) in [
        ("Failures (MUST)", Status::Fail),
        ("Warnings", Status::Warn),
        ("Documented deviations", Status::Deviation),
    ] {
        let rows: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.status == status)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n### {title}\n");
        s.push_str("| Check | Level | Assertion | Finding |\n|---|---|---|---|\n");
        for r in rows {
            let finding = match (&r.deviation, status) {
                (Some(d), Status::Deviation) => format!("{} — expected: {}", r.message, d.reason),
                _ => r.message.clone(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.id,
                r.level,
                cell(r.assertion),
                cell(&finding)
            );
        }
        let ev: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.status == status && !r.evidence.is_empty())
            .collect();
        if !ev.is_empty() && status != Status::Deviation {
            s.push_str("\n<details><summary>Evidence</summary>\n\n```\n");
            for r in ev {
                for e in &r.evidence {
                    let _ = writeln!(s, "{}: {}", r.id, e);
                }
            }
            s.push_str("```\n</details>\n");
        }
    }
    let unexpected: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.unexpected_pass)
        .collect();
    if !unexpected.is_empty() {
        s.push_str("\n### Documented deviations that did not occur\n\n");
        for r in unexpected {
            let _ = writeln!(s, "- {} passed although expected to deviate", r.id);
        }
    }
    s
}
