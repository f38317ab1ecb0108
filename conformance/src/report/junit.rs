//! JUnit XML: one test suite per area, one test case per check. Failures are
//! `<failure>`, warnings are passing cases with `<system-out>`, skips and
//! unimplemented checks are `<skipped>`.

use std::fmt::Write as _;

use crate::checks::Status;
use crate::runner::Report;

/// Escapes text for XML attributes and content.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The XML document.
pub fn render(report: &Report) -> String {
    let t = report.totals();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"conformance: {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        esc(&report.target),
        report.results.len(),
        t.fail,
        t.skip + t.not_implemented,
        report.duration_ms as f64 / 1000.0
    );
    for (area, c) in report.by_area() {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            esc(area),
            c.pass + c.fail + c.warn + c.info + c.skip + c.deviation + c.not_implemented,
            c.fail,
            c.skip + c.not_implemented
        );
        for r in report.results.iter().filter(|r| r.area == area) {
            let _ = write!(
                s,
                "    <testcase classname=\"conformance.{}\" name=\"{} [{}] {}\"",
                esc(area),
                esc(r.id),
                esc(r.level),
                esc(r.assertion)
            );
            let detail = format!("{}\n{}", r.message, r.evidence.join("\n"));
            match r.status {
                Status::Pass => s.push_str("/>\n"),
                Status::Fail => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        esc(&r.message),
                        esc(r.level),
                        esc(&detail)
                    );
                }
                Status::Skip | Status::NotImplemented => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        esc(&r.message)
                    );
                }
                Status::Warn | Status::Info | Status::Deviation => {
                    let why = match &r.deviation {
                        Some(d) if r.status == Status::Deviation => {
                            format!("documented deviation: {}\n{detail}", d.reason)
                        }
                        _ => detail,
                    };
                    let _ = writeln!(
                        s,
                        ">\n      <system-out>{}: {}</system-out>\n    </testcase>",
                        r.status.label(),
                        esc(&why)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
