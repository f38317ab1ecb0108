//! mock-idp
