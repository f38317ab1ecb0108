//! Secrets (client secrets, tokens) as a newtype that never prints and compares in constant time.
//! The mock's `mock_idp::Secret` has the same API (`new`, `expose`, `matches`, `is_empty`), and
//! neither implements `PartialEq`: the only comparison is [`Secret::matches`].

use std::fmt;
use subtle::ConstantTimeEq;

/// A secret string. `Debug` prints `Secret([redacted])`; read it with [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; call sites name the exposure.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value (the length is not hidden: secrets have
    /// public lengths).
    pub fn matches(&self, presented: impl AsRef<[u8]>) -> bool {
        self.0.as_bytes().ct_eq(presented.as_ref()).into()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let s = Secret::new("hunter2-very-secret");
        let printed = format!("{s:?} {:?}", Some(&s));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn comparison_is_exact() {
        let s = Secret::new("abc");
        assert!(s.matches(b"abc"));
        assert!(s.matches("abc"));
        assert!(!s.matches(b"abd"));
        assert!(!s.matches(b"ab"));
    }
}
