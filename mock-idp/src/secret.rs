//! Values that must never reach a log line, a `Debug` print or an error body.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret string: client secrets, SSWS tokens, passwords, private key PEM.
///
/// `Debug` prints `Secret([redacted])`; the value is read only through
/// [`Secret::expose`], and compared only in constant time.
/// No `PartialEq`: compare with [`Secret::matches`]. The gateway's `Secret` has the same API.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Named so that every read is visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value (length is not hidden,
    /// which is standard: secrets have public lengths).
    pub fn matches(&self, presented: impl AsRef<[u8]>) -> bool {
        self.0.as_bytes().ct_eq(presented.as_ref()).into()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Serialized as `[redacted]`: a printed configuration never carries the
/// value unless the printer puts it back on purpose ([`crate::Config::to_toml`]).
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_output_never_contains_the_value() {
        let secret = Secret::new("hunter2-very-secret");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn matches_only_the_exact_value() {
        let secret = Secret::new("abc");
        assert!(secret.matches("abc"));
        assert!(!secret.matches("abd"));
        assert!(!secret.matches("ab"));
        assert!(!secret.matches("abcd"));
        assert!(!secret.matches(""));
    }
}
