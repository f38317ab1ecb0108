//! The fuzz targets' kept corpora and crash reproducers (`fuzz/corpus/`, `fuzz/regressions/`),
//! replayed on every `cargo test`: an input that once found a crash keeps failing here if the
//! crash comes back.

use mock_idp::fuzz;

fn root() -> &'static std::path::Path {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn the_form_parser_survives_its_fuzz_corpus() {
    assert!(fuzz::replay(root(), "mock_form", fuzz::form) > 0);
}

#[test]
fn the_config_loader_survives_its_fuzz_corpus() {
    assert!(fuzz::replay(root(), "mock_config", fuzz::config) > 0);
}
