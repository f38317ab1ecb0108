//! Report formats: a terminal table grouped by area, JSON, JUnit XML and a
//! Markdown summary for pull requests.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod terminal;

use crate::runner::Report;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Terminal,
    Json,
    Junit,
    Markdown,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Terminal => terminal::render(report),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
    }
}
