//! JSON: the whole report, with totals and per-area counts.

use serde_json::json;

use crate::runner::Report;

/// Pretty JSON.
pub fn render(report: &Report) -> String {
    let areas: serde_json::Map<String, serde_json::Value> = report
        .by_area()
        .into_iter()
        .map(|(a, c)| (a.to_owned(), serde_json::to_value(c).unwrap_or_default()))
        .collect();
    let v = json!({
        "target": report.target,
        "issuer": report.issuer,
        "started_unix": report.started_unix,
        "duration_ms": report.duration_ms,
        "ok": report.ok(),
        "totals": report.totals(),
        "areas": areas,
        "results": report.results,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
