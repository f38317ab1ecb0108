//! Expected deviations, per target: data, not code (catalogue Part C.2).
//!
//! ```toml
//! [[deviation]]
//! id = "JWTAT-01"
//! expect = "fail"          # fail | warn | skip
//! reason = "Okta omits typ"
//! source = "docs/okta-behaviour.md §4"
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the check is expected to produce on this target.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Fail,
    Warn,
    Skip,
}

/// One documented deviation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    pub id: String,
    pub expect: Expect,
    pub reason: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// A target's expectations file.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default, rename = "deviation")]
    pub deviations: Vec<Deviation>,
}

impl Expectations {
    /// Reads an expectations file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let e: Self =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(e)
    }

    /// The deviation documented for `id`.
    pub fn get(&self, id: &str) -> Option<&Deviation> {
        self.deviations.iter().find(|d| d.id == id)
    }
}
