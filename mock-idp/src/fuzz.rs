//! Fuzz targets in libFuzzer's shape (`fn(&[u8])`, must never panic), run by the `cargo fuzz`
//! targets in `fuzz/` (`just fuzz-cov TARGET SECONDS`) and replayed from their corpora by
//! `tests/mock_idp/fuzz.rs`. Nothing here is used when serving.

use std::collections::HashSet;

use axum::http::HeaderMap;

use crate::config::Config;
use crate::form::OAuthForm;

/// The OAuth form parser: the bytes up to the first `\n` are the query string, the rest the
/// body. An accepted form has no empty value and no name twice, and a query naming a client
/// credential is always refused.
pub fn form(data: &[u8]) {
    let (query, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let query = String::from_utf8_lossy(query);
    let query_ok = OAuthForm::check_query(&query).is_ok();
    let names_credential = url::form_urlencoded::parse(query.as_bytes()).any(|(n, _)| {
        matches!(
            n.as_ref(),
            "client_secret" | "client_assertion" | "client_assertion_type"
        )
    });
    assert_eq!(query_ok, !names_credential, "query {query:?}");
    let Ok(form) = OAuthForm::parse(body, HeaderMap::new()) else {
        return;
    };
    let mut seen = HashSet::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if value.is_empty() {
            continue;
        }
        assert!(seen.insert(name.clone()), "{name} accepted twice");
        assert_eq!(form.get(&name), Some(value.as_ref()));
    }
}

/// The configuration loader: arbitrary TOML through parsing and validation (reads no files).
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_toml(text);
    }
}

/// Feeds `target` every file of `fuzz/corpus/NAME/` and `fuzz/regressions/NAME/` (the kept
/// corpus and crash reproducers; `root` is the workspace) and returns how many it ran. Shared by
/// both crates' replay tests.
pub fn replay(root: &std::path::Path, name: &str, target: fn(&[u8])) -> usize {
    let mut ran = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join("fuzz").join(dir).join(name)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            target(&data);
            ran += 1;
        }
    }
    ran
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_targets_accept_edge_inputs() {
        for d in [
            &b""[..],
            b"\n",
            b"client_secret=x\na=1",
            b"a=1&a=2",
            b"a=&a=1",
            b"%ff=%fe",
            b"[[clients]]\nclient_id = 1",
        ] {
            super::form(d);
            super::config(d);
        }
    }
}
