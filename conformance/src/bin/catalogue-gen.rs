//! Regenerates `conformance/src/checks/catalogue.rs` from the Part B tables of
//! `docs/conformance-catalogue.md` (id, assertion, level, source, mode per row).
//!
//! `cargo run -p conformance --bin catalogue-gen` rewrites the file; `-- --check` only says
//! whether it is current (exit 1 if not). A test keeps the checked-in file equal to the output.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The catalogue source, relative to the workspace.
const SOURCE: &str = "docs/conformance-catalogue.md";
/// The generated file, relative to the workspace.
const OUTPUT: &str = "conformance/src/checks/catalogue.rs";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The generated Rust source for `markdown`, formatted as rustfmt leaves it.
fn render(markdown: &str) -> Result<String, String> {
    let start = markdown.find("## Part B").ok_or("no `## Part B` heading")?;
    let end = markdown[start..]
        .find("### B.20")
        .map(|i| start + i)
        .ok_or("no `### B.20` heading (the counts, where Part B's tables end)")?;
    let mut out = String::from(
        "//! The check catalogue (generated from docs/conformance-catalogue.md Part B: id, area, level, mode, one-line assertion).\n\
         //! Regenerate with `cargo run -p conformance --bin catalogue-gen`; do not edit by hand.\n\
         \n\
         use super::{CheckDef, Level};\n\
         \n\
         /// Every check in the catalogue, in catalogue order.\n\
         pub static CATALOGUE: &[CheckDef] = &[\n",
    );
    let mut count = 0;
    for (n, line) in markdown[start..end].lines().enumerate() {
        let Some(row) = row(line) else { continue };
        let [id, assertion, level, source, mode] = row;
        let level_name = level_name(level.trim())
            .ok_or_else(|| format!("Part B line {}: unknown level `{level}`", n + 1))?;
        let assertion = assertion.replace("**", "").replace('`', "");
        let mode = mode.split(';').next().unwrap_or("").trim();
        out.push_str(&format!(
            "    CheckDef {{\n        id: \"{id}\",\n        area: \"{area}\",\n        level: Level::{level_name},\n        level_text: \"{level_text}\",\n        mode: \"{mode}\",\n        source: \"{source}\",\n        assertion: \"{assertion}\",\n    }},\n",
            area = area(id),
            level_text = esc(level.trim()),
            mode = esc(mode),
            source = esc(source.trim()),
            assertion = esc(assertion.trim()),
        ));
        count += 1;
    }
    if count == 0 {
        return Err("Part B has no check rows".into());
    }
    out.push_str("];\n");
    Ok(out)
}

/// A check row `| ID | assertion | level | source | mode |`, split into its five cells.
fn row(line: &str) -> Option<[&str; 5]> {
    let inner = line.strip_prefix("| ")?.strip_suffix(" |")?;
    let mut cells = inner.splitn(5, " | ");
    let cells = [
        cells.next()?,
        cells.next()?,
        cells.next()?,
        cells.next()?,
        cells.next()?,
    ];
    is_id(cells[0]).then_some(cells)
}

/// `AREA-NN`, `AREA-SUB-NN` or `AREA-LNN` (upper-case letters, then digits).
fn is_id(s: &str) -> bool {
    let Some((prefix, number)) = s.rsplit_once('-') else {
        return false;
    };
    let digits = number.strip_prefix('L').unwrap_or(number);
    let mut words = prefix.split('-');
    let letters = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase());
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && words.next().is_some_and(letters)
        && words.next().is_none_or(letters)
        && words.next().is_none()
}

/// The area of an id: everything before the final `-NN` / `-LNN`.
fn area(id: &str) -> &str {
    id.rsplit_once('-').map_or(id, |(area, _)| area)
}

fn level_name(level: &str) -> Option<&'static str> {
    [
        ("MUST*", "MustStar"),
        ("MUST", "Must"),
        ("SHOULD", "Should"),
        ("MAY", "May"),
        ("DERIVED", "Derived"),
        ("INFO", "Info"),
    ]
    .into_iter()
    .find_map(|(prefix, name)| level.starts_with(prefix).then_some(name))
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = workspace();
    let markdown = match std::fs::read_to_string(root.join(SOURCE)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{SOURCE}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let generated = match render(&markdown) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{SOURCE}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let current = std::fs::read_to_string(root.join(OUTPUT)).unwrap_or_default();
    if check {
        if current == generated {
            return ExitCode::SUCCESS;
        }
        eprintln!("{OUTPUT} is stale: run `cargo run -p conformance --bin catalogue-gen`");
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(root.join(OUTPUT), &generated) {
        eprintln!("{OUTPUT}: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "{OUTPUT}: {} checks",
        generated.matches("CheckDef {").count()
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_catalogue_is_the_generators_output() {
        let markdown = include_str!("../../../docs/conformance-catalogue.md");
        let generated = render(markdown).unwrap();
        assert!(
            generated == include_str!("../checks/catalogue.rs"),
            "{OUTPUT} differs from {SOURCE}: run `cargo run -p conformance --bin catalogue-gen`"
        );
    }

    #[test]
    fn rows_are_split_into_five_cells_and_other_lines_skipped() {
        let cells = row("| RS-L01 | a `b` | MUST | 6750 §3 | H; T |").unwrap();
        assert_eq!(cells, ["RS-L01", "a `b`", "MUST", "6750 §3", "H; T"]);
        assert!(row("| Id | Check | Level | Source | Mode |").is_none());
        assert!(row("|---|---|---|---|---|").is_none());
        assert_eq!(area("TOK-GEN-03"), "TOK-GEN");
        assert!(is_id("TOK-GEN-03") && is_id("INTRO-L2") && !is_id("A-B-C-1"));
    }
}
