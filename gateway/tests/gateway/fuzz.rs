//! Property tests over token parsing, header extraction and the whole admission path (route →
//! extract → validate → identify → authorize), against a gateway with a pinned key (no network).
//! Arbitrary bytes and mutated valid tokens never panic, and only a correctly signed, in-date
//! token for this issuer and audience is admitted.
//!
//! Cases per property: 256, or `GATEWAY_FUZZ_CASES` (`just fuzz` runs a long campaign).

use std::sync::OnceLock;

use gateway::clock::{ManualClock, SharedClock};
use gateway::config::Config;
use gateway::fuzz;
use gateway::pipeline::Pipeline;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::harness::{AUDIENCE, RsaKey, T0, raw_token, sign_hs256};

const ISSUER: &str = "https://idp.example/oauth2/default";
const CLIENT: &str = "fuzz-client";

fn cases() -> u32 {
    std::env::var("GATEWAY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

struct Fixture {
    key: RsaKey,
    pipeline: Pipeline,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = RsaKey::generate("key-1");
        let toml = format!(
            r#"
[[authorization_servers]]
name = "Pinned"
issuer = "{ISSUER}"
[authorization_servers.local]
audiences = ["{AUDIENCE}"]
clock_skew_seconds = 30
public_key_pem = '''
{pem}'''

[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "http://127.0.0.1:9"
identification = ["oauth2_local"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "Read", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]

[[scope_mappings]]
authorization_server = "Pinned"
scope = "beds.read"
api_scopes = ["Read"]

[[applications]]
name = "App"
apis = ["Beds"]
strategies = [{{ name = "S", scheme = "oauth2", authorization_server = "Pinned", client_id = "{CLIENT}" }}]
"#,
            pem = key.public_pem.replace("\r\n", "\n")
        );
        let config = Config::from_toml(&toml, &|_: &str| None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let clock = SharedClock(std::sync::Arc::new(ManualClock::new(T0)));
        let pipeline = rt.block_on(gateway::prepare(config, clock)).unwrap();
        Fixture { key, pipeline, rt }
    })
}

fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "iat": T0, "exp": T0 + 3600, "cid": CLIENT,
            "scp": ["beds.read"], "sub": "s" })
}

/// Whether the whole path admits `authorization` (an `Authorization` header value).
fn admitted(authorization: &[u8]) -> bool {
    let f = fixture();
    let mut headers = HeaderMap::new();
    match HeaderValue::from_bytes(authorization) {
        Ok(v) => headers.insert(header::AUTHORIZATION, v),
        Err(_) => return false,
    };
    let uri = Uri::from_static("/beds/hospitals");
    let (mut api, mut app) = (None, None);
    f.rt.block_on(
        f.pipeline
            .admit(&Method::GET, &uri, &headers, &mut api, &mut app),
    )
    .is_ok()
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

#[test]
fn the_fixture_admits_a_good_token() {
    let t = fixture().key.sign(&claims());
    assert!(admitted(&bearer(&t)));
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, u8),
    Truncate(usize),
    SwapParts(usize, usize),
    Duplicate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapParts(a, b)),
        (0usize..3).prop_map(Mutation::Duplicate),
    ]
}

fn apply(token: &str, m: &Mutation) -> Vec<u8> {
    let mut b = token.as_bytes().to_vec();
    let len = b.len();
    match *m {
        Mutation::Flip(i, x) => b[i % len] ^= x,
        Mutation::Delete(i, n) => {
            let i = i % len;
            b.drain(i..(i + n).min(len));
        }
        Mutation::Insert(i, c) => b.insert(i % (len + 1), c),
        Mutation::Truncate(i) => b.truncate(i % len),
        Mutation::SwapParts(x, y) => {
            let mut parts: Vec<&str> = token.split('.').collect();
            let n = parts.len();
            parts.swap(x % n, y % n);
            b = parts.join(".").into_bytes();
        }
        Mutation::Duplicate(x) => {
            let mut parts: Vec<&str> = token.split('.').collect();
            let x = x % parts.len();
            parts.insert(x, parts[x]);
            b = parts.join(".").into_bytes();
        }
    }
    b
}

/// Claims drawn from near-valid values; the oracle says whether they should pass.
#[derive(Debug, Clone)]
struct Drawn {
    iss: Option<&'static str>,
    aud: Option<Value>,
    iat: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    cid: Option<&'static str>,
    scp: Option<Value>,
    alg_kid: (&'static str, Option<&'static str>),
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -7200i64..7200,
        Just(-31),
        Just(-30),
        Just(29),
        Just(30),
        Just(31)
    ]
}

fn time() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => offset().prop_map(|o| Some(json!(T0 as i64 + o))),
        1 => Just(None),
        1 => Just(Some(json!("1800000000"))),
        1 => Just(Some(json!(1.8e9))),
    ]
}

fn drawn() -> impl Strategy<Value = Drawn> {
    (
        prop_oneof![
            Just(Some(ISSUER)),
            Just(None),
            Just(Some("https://idp.example/oauth2/other")),
            Just(Some("https://idp.example/oauth2/default/"))
        ],
        prop_oneof![
            Just(Some(json!(AUDIENCE))),
            Just(Some(json!([AUDIENCE, "api://x"]))),
            Just(Some(json!(["api://x"]))),
            Just(Some(json!([]))),
            Just(Some(json!("api://default/"))),
            Just(None),
        ],
        time(),
        time(),
        prop_oneof![3 => Just(None), 2 => time()],
        prop_oneof![Just(Some(CLIENT)), Just(Some("other")), Just(None)],
        prop_oneof![
            Just(Some(json!(["beds.read"]))),
            Just(Some(json!("beds.read"))),
            Just(Some(json!(["x"]))),
            Just(None)
        ],
        prop_oneof![
            Just(("RS256", Some("key-1"))),
            Just(("RS256", None)),
            Just(("RS256", Some("other"))),
            Just(("HS256", None)),
            Just(("none", None))
        ],
    )
        .prop_map(|(iss, aud, iat, exp, nbf, cid, scp, alg_kid)| Drawn {
            iss,
            aud,
            iat,
            exp,
            nbf,
            cid,
            scp,
            alg_kid,
        })
}

impl Drawn {
    fn claims(&self) -> Value {
        let mut c = serde_json::Map::new();
        c.insert("sub".into(), json!("s"));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                c.insert(k.into(), v);
            }
        };
        put("iss", self.iss.map(|s| json!(s)));
        put("aud", self.aud.clone());
        put("iat", self.iat.clone());
        put("exp", self.exp.clone());
        put("nbf", self.nbf.clone());
        put("cid", self.cid.map(|s| json!(s)));
        put("scp", self.scp.clone());
        Value::Object(c)
    }

    /// The oracle, written independently of the gateway's code.
    fn should_pass(&self) -> bool {
        let now = T0 as i64;
        let int = |v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_i64)
                .filter(|_| v.as_ref().is_some_and(Value::is_i64))
        };
        let typed = |v: &Option<Value>| v.is_none() || int(v).is_some();
        let aud_ok = match &self.aud {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(v)) => v.iter().any(|a| a == AUDIENCE),
            _ => false,
        };
        let scope_ok = match &self.scp {
            Some(Value::String(s)) => s.split(' ').any(|x| x == "beds.read"),
            Some(Value::Array(v)) => v.iter().any(|x| x == "beds.read"),
            _ => false,
        };
        // A pinned key verifies whatever `kid` the token names: the signature is what counts.
        self.alg_kid.0 == "RS256"
            && self.iss == Some(ISSUER)
            && aud_ok
            && typed(&self.nbf)
            && int(&self.exp).is_some_and(|e| now <= e + 30)
            && int(&self.iat).is_some_and(|i| i <= now + 30)
            && int(&self.nbf).is_none_or(|n| n <= now + 30)
            && self.cid == Some(CLIENT)
            && scope_ok
    }

    fn token(&self, key: &RsaKey) -> String {
        let claims = self.claims();
        match self.alg_kid {
            ("RS256", kid) => {
                let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                h.kid = kid.map(str::to_owned);
                jsonwebtoken::encode(&h, &claims, &key.encoding).unwrap()
            }
            ("HS256", _) => sign_hs256(key.public_pem.as_bytes(), Some("key-1"), &claims),
            _ => raw_token(&json!({ "alg": "none" }), &claims, b""),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_token_parser_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz::token(&data);
    }

    #[test]
    fn the_token_parser_never_panics_on_jwt_shaped_input(
        parts in proptest::collection::vec("[A-Za-z0-9_=+/-]{0,64}", 1..6),
    ) {
        fuzz::token(parts.join(".").as_bytes());
    }

    #[test]
    fn header_extraction_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        fuzz::authorization_header(&data);
    }

    #[test]
    fn arbitrary_authorization_values_are_never_admitted(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        prop_assert!(!admitted(&data));
        let mut b = b"Bearer ".to_vec();
        b.extend_from_slice(&data);
        prop_assert!(!admitted(&b));
    }

    #[test]
    fn a_mutated_valid_token_is_admitted_only_if_unchanged(ms in proptest::collection::vec(mutation(), 1..4)) {
        let good = fixture().key.sign(&claims());
        let mut t = good.clone().into_bytes();
        for m in &ms {
            let s = String::from_utf8_lossy(&t).into_owned();
            if s.is_empty() { break; }
            t = apply(&s, m);
        }
        let mut auth = b"Bearer ".to_vec();
        auth.extend_from_slice(&t);
        let passed = admitted(&auth);
        prop_assert_eq!(passed, t == good.as_bytes(), "{:?}", String::from_utf8_lossy(&t));
    }

    #[test]
    fn only_signed_in_date_matching_tokens_pass(d in drawn()) {
        let t = d.token(&fixture().key);
        prop_assert_eq!(admitted(&bearer(&t)), d.should_pass(), "{:?}", d);
    }
}

/// The cargo-fuzz targets' kept corpora and crash reproducers (`fuzz/corpus/`,
/// `fuzz/regressions/`), replayed on every `cargo test`.
mod corpus {
    use gateway::fuzz;
    use mock_idp::fuzz::replay;

    fn root() -> &'static std::path::Path {
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    #[test]
    fn the_token_parser_survives_its_fuzz_corpus() {
        assert!(replay(root(), "token", fuzz::token) > 0);
    }

    #[test]
    fn header_extraction_survives_its_fuzz_corpus() {
        assert!(replay(root(), "authorization_header", fuzz::authorization_header) > 0);
    }

    #[test]
    fn the_route_matcher_survives_its_fuzz_corpus() {
        assert!(replay(root(), "route", fuzz::route) > 0);
    }

    #[test]
    fn the_upstream_response_parser_survives_its_fuzz_corpus() {
        assert!(replay(root(), "upstream_response", fuzz::upstream_response) > 0);
    }

    #[test]
    fn the_config_loader_survives_its_fuzz_corpus() {
        assert!(replay(root(), "gateway_config", fuzz::config) > 0);
    }
}
