//! The HTTP/1.1 response: its head parsed with httparse (interim 1xx heads skipped), what it says
//! of the body's framing and of the connection's reuse (RFC 9112 §6.3), and the body read from
//! the connection as the client takes it, back into the pool at its end.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use hyper::body::{Frame, SizeHint};

use super::pool::{Conn, Pool};

/// A response head larger than this is refused (hyper's client allows about as much).
const MAX_HEAD: usize = 64 * 1024;
/// Response header fields, at most (hyper's default).
pub(super) const MAX_HEADERS: usize = 100;
/// Interim (1xx) responses skipped before a final one, at most.
pub(super) const MAX_INTERIM: usize = 16;
/// A chunk-size line (with extensions) or the trailer section longer than this is refused.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 16 * 1024;
/// A body at most this long, already read with its head, is copied out so the connection's
/// buffer stays its own (and is reused in place) rather than shared with the response.
const COPY_BODY_UP_TO: usize = 16 * 1024;

/// What a response head says about the body that follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body's reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data, at its CRLF.
    DataEnd,
    /// In the trailer section (read and dropped: trailers are not relayed).
    Trailers,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum HeadError {
    #[error("the connection closed before a complete response head")]
    Closed { nothing_read: bool },
    #[error("reading the response failed: {0}")]
    Io(#[from] io::Error),
    #[error("the response head is malformed: {0}")]
    Malformed(&'static str),
}

/// Reads one final response head (interim 1xx responses are skipped) and what it says of the
/// body: its framing, and whether the connection may be used again after it.
pub(super) async fn read_head(
    conn: &mut Conn,
    expects_body: bool,
) -> Result<(http::response::Parts, Framing, bool), HeadError> {
    let mut nothing_read = conn.buf.is_empty();
    loop {
        if !conn.buf.is_empty() {
            nothing_read = false;
            if let Some(parsed) = parse_head(&mut conn.buf, expects_body)? {
                return Ok(parsed);
            }
            if conn.buf.len() >= MAX_HEAD {
                return Err(HeadError::Malformed("the head is too large"));
            }
        }
        match conn.fill().await {
            Ok(0) => return Err(HeadError::Closed { nothing_read }),
            Ok(_) => {}
            // An upstream that closed a connection with our request unread resets it.
            Err(e)
                if nothing_read
                    && matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(HeadError::Closed { nothing_read });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Parses a final response head at the start of `buf`, consuming it (and any interim 1xx
/// heads before it). `None`: more bytes are needed.
pub(super) fn parse_head(
    buf: &mut BytesMut,
    expects_body: bool,
) -> Result<Option<(http::response::Parts, Framing, bool)>, HeadError> {
    for _ in 0..=MAX_INTERIM {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Malformed("too many header fields"));
            }
            Err(_) => return Err(HeadError::Malformed("not an HTTP/1.x response head")),
        };
        let code = parsed.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| HeadError::Malformed("bad status code"))?;
        if status.is_informational() {
            // 101 would switch protocols: never asked for (Upgrade is not forwarded).
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(HeadError::Malformed("an unrequested protocol switch"));
            }
            buf.advance(len);
            continue;
        }
        let http10 = parsed.version == Some(0);
        // One copy of the head; the field values are slices of it (not an allocation each).
        let base = buf.as_ptr() as usize;
        let head = Bytes::copy_from_slice(&buf[..len]);
        let mut headers = HeaderMap::with_capacity(parsed.headers.len());
        let mut lengths: Option<u64> = None;
        let mut chunked = None;
        let (mut close_asked, mut keep_alive_asked) = (false, false);
        for field in parsed.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| HeadError::Malformed("a bad header name"))?;
            if name == header::CONTENT_LENGTH {
                // Repeated or listed values must agree (RFC 9110 §8.6).
                for v in field.value.split(|b| *b == b',') {
                    let n = parse_length(v.trim_ascii())
                        .ok_or(HeadError::Malformed("a bad Content-Length"))?;
                    if lengths.is_some_and(|l| l != n) {
                        return Err(HeadError::Malformed("conflicting Content-Length values"));
                    }
                    lengths = Some(n);
                }
            } else if name == header::TRANSFER_ENCODING {
                // Chunked only when it is the final coding; otherwise the body runs to close.
                let last = field.value.rsplit(|b| *b == b',').next().unwrap_or(b"");
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name == header::CONNECTION {
                for token in field.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close_asked |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            // A slice of `head` when httparse's value lies within it, as it always should.
            let end = field.value.len();
            let value = match (field.value.as_ptr() as usize).checked_sub(base) {
                Some(start) if start + end <= head.len() => {
                    HeaderValue::from_maybe_shared(head.slice(start..start + end))
                }
                _ => HeaderValue::from_bytes(field.value),
            }
            .map_err(|_| HeadError::Malformed("a bad header value"))?;
            headers.append(name, value);
        }
        buf.advance(len);
        // `close` wins over anything else said; HTTP/1.0 keeps a connection only when asked,
        // and never after a chunked body, which it does not define (RFC 9112 §6.1).
        let mut close = close_asked || (http10 && (!keep_alive_asked || chunked.is_some()));

        let no_body =
            !expects_body || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let framing = match (no_body, chunked, lengths) {
            (true, _, _) => Framing::Length(0),
            // Transfer-Encoding wins over Content-Length, and such a message closes its
            // connection after it (RFC 9112 §6.1, §6.3).
            (false, Some(is_chunked), length) => {
                if length.is_some() {
                    headers.remove(header::CONTENT_LENGTH);
                    close = true;
                }
                if is_chunked {
                    Framing::Chunked(Chunk::Size)
                } else {
                    close = true;
                    Framing::UntilClose
                }
            }
            (false, None, Some(n)) => {
                // Agreeing repeats (`5, 5`) go on as one value.
                if headers.get_all(header::CONTENT_LENGTH).iter().count() > 1
                    || headers
                        .get(header::CONTENT_LENGTH)
                        .is_some_and(|v| v.as_bytes().contains(&b','))
                {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                }
                Framing::Length(n)
            }
            (false, None, None) => {
                close = true;
                Framing::UntilClose
            }
        };
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let (parts, ()) = response.into_parts();
        return Ok(Some((parts, framing, !close)));
    }
    Err(HeadError::Malformed("too many interim responses"))
}

/// What [`parse_response_head`] read from bytes alone.
#[derive(Debug)]
pub(crate) struct ParsedResponse {
    /// The final head.
    pub parts: http::response::Parts,
    /// As much of the body as the bytes held.
    pub body: Vec<u8>,
    /// Whether the body's end was among the bytes (never for a body that runs to close).
    pub body_complete: bool,
    /// Whether the connection could carry another exchange after this one.
    pub keep_alive: bool,
}

/// The upstream response parser on bytes alone, as the fuzz targets call it: the final head at
/// the start of `bytes` (interim heads skipped) and as much of its body as follows, decoded by
/// its framing. `Ok(None)`: the head is incomplete. `Err`: the response would be a 502.
pub(crate) fn parse_response_head(
    bytes: &[u8],
    expects_body: bool,
) -> Result<Option<ParsedResponse>, String> {
    let mut buf = BytesMut::from(bytes);
    let Some((parts, mut framing, keep_alive)) =
        parse_head(&mut buf, expects_body).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let mut body = Vec::new();
    let mut trailer_bytes = 0;
    let body_complete = loop {
        match decode_body(&mut framing, &mut trailer_bytes, &mut buf) {
            Ok(Some(Some(data))) => body.extend_from_slice(&data),
            Ok(Some(None)) => break true,
            Ok(None) => break false,
            Err(e) => return Err(e.to_string()),
        }
    };
    Ok(Some(ParsedResponse {
        parts,
        body,
        body_complete,
        keep_alive: keep_alive && body_complete && buf.is_empty(),
    }))
}

/// A Content-Length value: digits only, within `u64`.
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The response with its body: at hand already (the connection back in the pool at once), or
/// streamed from the connection.
pub(super) fn respond(
    mut conn: Conn,
    pool: &Arc<Pool>,
    parts: http::response::Parts,
    framing: Framing,
    keep_alive: bool,
) -> Response<Body> {
    if let Framing::Length(n) = framing
        && n <= conn.buf.len() as u64
    {
        let n = n as usize;
        let body = if n <= COPY_BODY_UP_TO {
            let body = Bytes::copy_from_slice(&conn.buf[..n]);
            conn.buf.advance(n);
            body
        } else {
            conn.buf.split_to(n).freeze()
        };
        // Bytes after the response were never asked for: the connection is out of step.
        if keep_alive && conn.buf.is_empty() {
            pool.checkin(conn);
        }
        let body = if body.is_empty() {
            Body::empty()
        } else {
            Body::from(body)
        };
        return Response::from_parts(parts, body);
    }
    let streaming = Streaming {
        conn: Some(conn),
        framing,
        keep_alive,
        pool: pool.clone(),
        trailer_bytes: 0,
    };
    Response::from_parts(parts, Body::new(streaming))
}

/// A response body read from its connection as the client takes it. At its end the connection
/// goes back to the pool (if it may); dropped before the end, the connection is closed.
struct Streaming {
    /// `None` once the body has ended.
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<Pool>,
    trailer_bytes: usize,
}

fn malformed(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Streaming {
    /// The body has ended: the connection is released.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.buf.is_empty()
        {
            self.pool.checkin(conn);
        }
    }

    /// The next piece of body, or `None` at its end, from bytes already read.
    fn next_from_buffer(&mut self) -> Result<Option<Option<Bytes>>, io::Error> {
        let Some(conn) = &mut self.conn else {
            return Ok(Some(None));
        };
        decode_body(&mut self.framing, &mut self.trailer_bytes, &mut conn.buf)
    }
}

/// The next piece of a body framed by `framing` from the bytes in `buf`: `Some(None)` at its
/// end, `None` when more bytes are needed. Chunked coding is taken apart here, its trailer
/// section read and dropped (`trailer_bytes` counts it against its limit).
fn decode_body(
    framing: &mut Framing,
    trailer_bytes: &mut usize,
    buf: &mut BytesMut,
) -> Result<Option<Option<Bytes>>, io::Error> {
    loop {
        match framing {
            Framing::Length(0) => return Ok(Some(None)),
            Framing::Length(left) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = (*left).min(buf.len() as u64) as usize;
                *left -= n as u64;
                return Ok(Some(Some(buf.split_to(n).freeze())));
            }
            Framing::UntilClose => {
                if buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(Some(buf.split().freeze())));
            }
            Framing::Chunked(state) => match *state {
                Chunk::Size => {
                    let Some(end) = memchr_crlf(buf) else {
                        if buf.len() > MAX_CHUNK_LINE {
                            return Err(malformed("a chunk-size line is too long"));
                        }
                        return Ok(None);
                    };
                    let line = &buf[..end];
                    if has_control(line) {
                        return Err(malformed("a control character in a chunk-size line"));
                    }
                    let size = line.split(|b| *b == b';').next().unwrap_or(b"");
                    let size = parse_chunk_size(size.trim_ascii_end())
                        .ok_or_else(|| malformed("a bad chunk size"))?;
                    buf.advance(end + 2);
                    *state = if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = left.min(buf.len() as u64) as usize;
                    *state = if left == n as u64 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n as u64)
                    };
                    return Ok(Some(Some(buf.split_to(n).freeze())));
                }
                Chunk::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(malformed("chunk data longer than its size"));
                    }
                    buf.advance(2);
                    *state = Chunk::Size;
                }
                Chunk::Trailers => {
                    let Some(end) = memchr_crlf(buf) else {
                        if *trailer_bytes + buf.len() > MAX_TRAILERS {
                            return Err(malformed("the trailer section is too large"));
                        }
                        return Ok(None);
                    };
                    if has_control(&buf[..end]) {
                        return Err(malformed("a control character in a trailer field"));
                    }
                    *trailer_bytes += end + 2;
                    if *trailer_bytes > MAX_TRAILERS {
                        return Err(malformed("the trailer section is too large"));
                    }
                    buf.advance(end + 2);
                    if end == 0 {
                        *framing = Framing::Length(0);
                    }
                }
            },
        }
    }
}

/// A control character other than HTAB (a bare LF or CR included): a line that different
/// parsers would split differently.
fn has_control(line: &[u8]) -> bool {
    line.iter()
        .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
}

fn memchr_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// A chunk size: hexadecimal digits only, within `u64`.
fn parse_chunk_size(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        let digit = (*d as char).to_digit(16)?;
        Some((n << 4) | u64::from(digit))
    })
}

impl hyper::body::Body for Streaming {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.next_from_buffer() {
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(Some(data))) => {
                    // Release as soon as the end is known: a server stops polling a body whose
                    // end it knows.
                    if this.framing == Framing::Length(0) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Some(None)) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            let Some(conn) = &mut this.conn else {
                return Poll::Ready(None);
            };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream closed the connection mid-body",
                    ))));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.framing == Framing::Length(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8], expects_body: bool) -> Result<Option<(u16, Framing, bool)>, HeadError> {
        let mut buf = BytesMut::from(bytes);
        Ok(parse_head(&mut buf, expects_body)?.map(|(p, f, k)| (p.status.as_u16(), f, k)))
    }

    /// A response head, whether the request expects a body, and the status, framing and
    /// keep-alive it should yield.
    type Case<'a> = (&'a [u8], bool, (u16, Framing, bool));

    #[test]
    fn framing_follows_rfc_9112() {
        let cases: &[Case<'_>] = &[
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\nx-empty:\r\nx-b: \r\ncontent-length: 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), true)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 3\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), false)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n", true, (200, Framing::UntilClose, false)),
            (b"HTTP/1.1 200 OK\r\n\r\n", true, (200, Framing::UntilClose, false)),
            (b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n", true, (204, Framing::Length(0), true)),
            (b"HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n", true, (304, Framing::Length(0), true)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", false, (200, Framing::Length(0), true)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\n", true, (200, Framing::Length(1), true)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: close, keep-alive\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), false)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: keep-alive, close\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n", true, (201, Framing::Length(0), true)),
        ];
        for (bytes, expects_body, want) in cases {
            let got = head(bytes, *expects_body).ok().flatten();
            assert_eq!(got, Some(*want), "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn ambiguous_or_broken_heads_are_refused() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
        ] {
            assert!(
                head(bytes, true).is_err(),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\ncontent-le", true),
            Ok(None)
        ));
        let endless = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INTERIM + 1);
        assert!(head(&endless, true).is_err(), "interim answers are bounded");
    }

    #[test]
    fn agreeing_repeated_lengths_go_on_as_one() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\ncontent-length: 5\r\n\r\n"[..],
        );
        let (parts, framing, _) = parse_head(&mut buf, true).unwrap().unwrap();
        assert_eq!(framing, Framing::Length(5));
        let lengths: Vec<_> = parts
            .headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .collect();
        assert_eq!(lengths, [&HeaderValue::from(5u64)]);
    }

    #[test]
    fn chunk_lines_with_control_characters_are_refused() {
        assert!(has_control(b"5;x\nfoo"));
        assert!(has_control(b"5\r"));
        assert!(!has_control(b"5;name=\"a\tb\""));
    }

    #[test]
    fn chunk_sizes_are_strict_hex() {
        assert_eq!(parse_chunk_size(b"1a"), Some(26));
        assert_eq!(parse_chunk_size(b"FFFFFFFFFFFFFFFF"), Some(u64::MAX));
        for bad in [&b""[..], b"-1", b"0x10", b"10000000000000000", b" 1", b"g"] {
            assert_eq!(
                parse_chunk_size(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
