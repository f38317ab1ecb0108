//! `[access_log]`: one line per proxy-port request, where to and in which format.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, err};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccessLog {
    format: Option<String>,
    path: Option<String>,
    subject: Option<bool>,
    query_values: Option<bool>,
}

/// A line's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// One JSON object a line.
    Json,
    /// The combined log format, with the gateway's fields after it.
    Combined,
}

/// The access log (`[access_log]`), written by `crate::access_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogConfig {
    /// `format`: `json` (default) or `combined`.
    pub format: AccessLogFormat,
    /// `path`: the file (appended to, reopened on SIGUSR1); `None` (absent or `-`): stdout.
    pub path: Option<PathBuf>,
    /// `subject`: whether the token's `sub` is logged (default true).
    pub subject: bool,
    /// `query_values`: whether query values are logged (default false: names only).
    pub query_values: bool,
}

pub(super) fn access_log(
    raw: Option<RawAccessLog>,
) -> Result<Option<AccessLogConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let format = match raw.format.as_deref() {
        None | Some("json") => AccessLogFormat::Json,
        Some("combined") => AccessLogFormat::Combined,
        Some(_) => return Err(err("access_log.format", "must be \"json\" or \"combined\"")),
    };
    let path = match raw.path.as_deref() {
        None | Some("-") => None,
        Some("") => return Err(err("access_log.path", "must be a file or \"-\" (stdout)")),
        Some(p) => Some(PathBuf::from(p)),
    };
    Ok(Some(AccessLogConfig {
        format,
        path,
        subject: raw.subject.unwrap_or(true),
        query_values: raw.query_values.unwrap_or(false),
    }))
}
