//! The terminal table, grouped by area: pass / fail / warn / skip per check,
//! with the one-line assertion and the evidence on failures and warnings.

use std::fmt::Write as _;

use crate::checks::Status;
use crate::runner::Report;

/// Plain text (no colours, so it can be piped and diffed).
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "conformance: {} ({})", report.target, report.issuer);
    for (area, c) in report.by_area() {
        let _ = writeln!(
            s,
            "\n== {area}: {} pass, {} fail, {} warn, {} deviation, {} skip, {} n/i",
            c.pass, c.fail, c.warn, c.deviation, c.skip, c.not_implemented
        );
        for r in report.results.iter().filter(|r| r.area == area) {
            if r.status == Status::NotImplemented {
                continue;
            }
            let _ = writeln!(
                s,
                "  {:<9} {:<10} {:<8} {}",
                r.status.label(),
                r.id,
                r.level,
                short(r.assertion, 90)
            );
            match r.status {
                Status::Fail | Status::Warn | Status::Deviation | Status::Skip | Status::Info => {
                    if !r.message.is_empty() {
                        let _ = writeln!(s, "            -> {}", short(&r.message, 300));
                    }
                    if let (Status::Deviation, Some(d)) = (r.status, &r.deviation) {
                        let _ = writeln!(s, "            expected: {}", short(&d.reason, 200));
                    }
                    if matches!(r.status, Status::Fail | Status::Warn) {
                        for e in &r.evidence {
                            let _ = writeln!(s, "            evidence: {}", short(e, 600));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let _ = writeln!(
        s,
        "\n{:<8} {:>5} {:>5} {:>5} {:>9} {:>5} {:>5} {:>5}",
        "area", "pass", "fail", "warn", "deviation", "info", "skip", "n/i"
    );
    for (area, c) in report.by_area() {
        let _ = writeln!(
            s,
            "{area:<8} {:>5} {:>5} {:>5} {:>9} {:>5} {:>5} {:>5}",
            c.pass, c.fail, c.warn, c.deviation, c.info, c.skip, c.not_implemented
        );
    }
    let t = report.totals();
    let _ = writeln!(
        s,
        "\nTOTAL: {} pass, {} fail, {} warn, {} deviation, {} info, {} skip, {} not implemented — {}",
        t.pass,
        t.fail,
        t.warn,
        t.deviation,
        t.info,
        t.skip,
        t.not_implemented,
        if report.ok() {
            "OK (no MUST failed)"
        } else {
            "FAILED (a MUST failed)"
        }
    );
    s
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
