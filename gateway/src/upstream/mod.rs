//! The client side of the gateway: connections to upstreams, in a pool per upstream with a slot
//! per proxy worker (`pool`), and the HTTP/1.1 exchange spoken over them (`http1`: the request
//! head and body out, `response`: the response head parsed with httparse and the body framed by
//! RFC 9112 §6.3). Everything runs in the request's own task: no connection task, no channel
//! between the request and its connection.
//!
//! A connection goes back to the pool only when its response was framed by `Content-Length` or
//! chunked coding and read to its end, nothing followed it, the upstream did not ask to close,
//! and (when taken out again) nothing arrived while it sat idle. Anything else closes it: a
//! mis-framed response must never be read as the start of the next one (response
//! desynchronisation, where one caller would be handed another's response).

mod http1;
mod pool;
mod response;

use http::{HeaderName, HeaderValue};

pub(crate) use http1::exchange;
pub(crate) use pool::Pool;
pub(crate) use response::parse_response_head;

/// How the request head sent upstream differs from the client's.
pub(crate) struct HeadRewrite<'a> {
    /// The origin-form target (path and query).
    pub target: &'a str,
    /// The `Host` field.
    pub host: &'a HeaderValue,
    /// Fields added after the client's; one whose value is not a valid field value (a control
    /// character, from a token claim) is left out.
    pub added: &'a [(&'static str, &'a str)],
    /// The client's fields not passed on.
    pub leave_out: &'a (dyn Fn(&HeaderName) -> bool + Sync),
}

/// Whether header `name` begins with `prefix` (given in lowercase), ignoring case and reading
/// `_` as `-`: some servers (CGI, WSGI, Rack) do, so `Content_Length` or
/// `X_Gateway_Subject` mean to them what the dashed names mean.
pub(crate) fn field_name_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.bytes().zip(prefix.bytes()).all(|(n, p)| {
            let n = n.to_ascii_lowercase();
            n == p || (n == b'_' && p == b'-')
        })
}

/// Whether header `name` is `canonical`, in the sense of [`field_name_starts_with`].
pub(crate) fn field_name_is(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len() && field_name_starts_with(name, canonical)
}

/// What `HeaderValue` accepts: visible characters, spaces, tabs and obs-text (no CR, LF, NUL).
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|b| (*b >= 0x20 && *b != 0x7f) || *b == b'\t')
}
