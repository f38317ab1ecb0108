//! JWKS: the published key set.

use std::time::Duration;

use serde_json::Value;

use super::Ctx;
use crate::jwt::{self, Jwt};

pub const IDS: &[&str] = &[
    "JWKS-01", "JWKS-02", "JWKS-03", "JWKS-04", "JWKS-05", "JWKS-06", "JWKS-07", "JWKS-08",
    "JWKS-09", "JWKS-10", "JWKS-11",
];

const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

pub async fn run(cx: &mut Ctx) {
    let ex = cx.jwks_exchange(false).await;
    let ct_ok = ex.header("content-type").is_some_and(|c| {
        let c = c.to_ascii_lowercase();
        c.starts_with("application/json") || c.starts_with("application/jwk-set+json")
    });
    let set = ex.json();
    let keys: Vec<Value> = set
        .as_ref()
        .and_then(|s| s.get("keys"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ok = cx.check(
        "JWKS-01",
        ex.status == 200
            && ct_ok
            && set
                .as_ref()
                .is_some_and(|s| s.get("keys").is_some_and(Value::is_array)),
        "jwks_uri is not 200 JSON with a `keys` array",
        &ex,
    );
    if !ok {
        for id in &IDS[1..] {
            cx.skip(id, "no key set");
        }
        return;
    }
    // JWKS-02
    let mut bad = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let s = |n: &str| k.get(n).and_then(Value::as_str);
        let need: &[&str] = match s("kty") {
            Some("RSA") => &["n", "e"],
            Some("EC") => &["crv", "x", "y"],
            Some("OKP") => &["crv", "x"],
            Some(_) => &[],
            None => {
                bad.push(format!("key {i} has no kty"));
                continue;
            }
        };
        for m in need {
            match s(m) {
                Some(v) if *m == "crv" || jwt::is_b64url(v) => {}
                _ => bad.push(format!(
                    "key {i} member {m} missing or not unpadded base64url"
                )),
            }
        }
    }
    cx.check("JWKS-02", bad.is_empty(), bad.join("; "), &ex);
    // JWKS-03
    let leaks: Vec<String> = keys
        .iter()
        .enumerate()
        .flat_map(|(i, k)| {
            let mut v: Vec<String> = PRIVATE
                .iter()
                .filter(|m| k.get(**m).is_some())
                .map(|m| format!("key {i} has `{m}`"))
                .collect();
            if k.get("kty").and_then(Value::as_str) == Some("oct") {
                v.push(format!("key {i} is symmetric (oct)"));
            }
            v
        })
        .collect();
    cx.check("JWKS-03", leaks.is_empty(), leaks.join("; "), &ex);
    // JWKS-04, JWKS-05
    let kids: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.get("kid").and_then(Value::as_str))
        .collect();
    let all_kid = kids.iter().all(|k| k.is_some_and(|s| !s.trim().is_empty()));
    cx.check("JWKS-04", all_kid, "a key has no (or an empty) kid", &ex);
    let mut sorted: Vec<&str> = kids.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let n = sorted.len();
    sorted.dedup();
    cx.check("JWKS-05", sorted.len() == n, "kid values repeat", &ex);
    // JWKS-06
    let uses: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.get("use").and_then(Value::as_str))
        .collect();
    let mixed = uses.contains(&Some("enc"));
    cx.check(
        "JWKS-06",
        !mixed || uses.iter().all(Option::is_some),
        "signing and encryption keys mixed without `use` on every key",
        &ex,
    );
    // JWKS-07
    let mut weak = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match k.get("kty").and_then(Value::as_str) {
            Some("RSA") => match jwt::rsa_bits(k) {
                Some(b) if b >= 2048 => {}
                b => weak.push(format!("key {i}: RSA modulus {b:?} bits")),
            },
            Some("EC") => {
                let crv = k.get("crv").and_then(Value::as_str).unwrap_or("");
                let want = match k.get("alg").and_then(Value::as_str) {
                    Some("ES256") => Some("P-256"),
                    Some("ES384") => Some("P-384"),
                    Some("ES512") => Some("P-521"),
                    _ => None,
                };
                if want.is_some_and(|w| w != crv) {
                    weak.push(format!("key {i}: alg/crv mismatch ({crv})"));
                }
            }
            _ => {}
        }
    }
    cx.check("JWKS-07", weak.is_empty(), weak.join("; "), &ex);
    // JWKS-08
    let meta = cx.meta().await;
    let algs: Vec<String> = meta
        .get("id_token_signing_alg_values_supported")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut missing = Vec::new();
    for alg in algs.iter().filter(|a| *a != "none") {
        let kty = if alg.starts_with("RS") || alg.starts_with("PS") {
            "RSA"
        } else if alg.starts_with("ES") {
            "EC"
        } else if alg.starts_with("HS") {
            continue; // keyed with the client secret, not a published key
        } else {
            "OKP"
        };
        let usable = keys.iter().any(|k| {
            k.get("kty").and_then(Value::as_str) == Some(kty)
                && k.get("alg")
                    .and_then(Value::as_str)
                    .is_none_or(|a| a == alg)
                && k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
        });
        if !usable {
            missing.push(alg.clone());
        }
    }
    let none_alg = keys
        .iter()
        .any(|k| k.get("alg").and_then(Value::as_str) == Some("none"));
    cx.check(
        "JWKS-08",
        missing.is_empty() && !none_alg,
        format!("no usable key for {missing:?} (or a key with alg none)"),
        &ex,
    );
    // JWKS-09: every JWS we can get our hands on.
    let mut tokens: Vec<(&str, String)> = Vec::new();
    if let Some(t) = cx.cc_token().await {
        tokens.push(("client-credentials access token", t));
    }
    if let Some(u) = cx.user_tokens().await {
        if let Some(t) = u.id_token {
            tokens.push(("ID token", t));
        }
        if let Some(t) = u.access_token {
            tokens.push(("user access token", t));
        }
    }
    let set = set.unwrap_or_default();
    let mut checked = 0;
    for (what, t) in &tokens {
        let Some(j) = Jwt::decode(t) else { continue };
        checked += 1;
        if j.h("kid").is_none() {
            cx.fail("JWKS-09", format!("{what} has no kid"), Some(&ex));
            continue;
        }
        match jwt::verify(&j, &set) {
            Ok(()) => cx.pass("JWKS-09", format!("{what} verifies")),
            Err(e) => cx.fail("JWKS-09", format!("{what}: {e}"), Some(&ex)),
        }
    }
    if checked == 0 {
        cx.skip("JWKS-09", "no JWS issued to inspect");
    }
    // JWKS-10: x5c leaf key = bare key (compare the modulus bytes inside the DER).
    let with_x5c: Vec<&Value> = keys.iter().filter(|k| k.get("x5c").is_some()).collect();
    if with_x5c.is_empty() {
        cx.pass("JWKS-10", "no x5c published");
    } else {
        use base64::Engine as _;
        for k in with_x5c {
            let leaf = k
                .get("x5c")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok());
            let n = k.get("n").and_then(Value::as_str).and_then(|n| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(n)
                    .ok()
            });
            let ok = match (leaf, n) {
                (Some(der), Some(n)) => der.windows(n.len()).any(|w| w == n.as_slice()),
                _ => false,
            };
            cx.check(
                "JWKS-10",
                ok,
                "x5c leaf certificate does not carry the bare key",
                &ex,
            );
        }
    }
    // JWKS-11: rotation, only where the target can rotate (the in-process mock).
    jwks_11(cx).await;
}

async fn jwks_11(cx: &mut Ctx) {
    let Some(rotate) = cx.rotate.clone() else {
        cx.skip(
            "JWKS-11",
            "key rotation needs admin set-up on this target (mode A)",
        );
        return;
    };
    let before = cx.jwks().await;
    let old_kids = kids(&before);
    rotate().await;
    cx.elapse(Duration::from_secs(1)).await;
    let ex = cx.jwks_exchange(true).await;
    let after = ex.json().unwrap_or_default();
    let new_kids = kids(&after);
    let added: Vec<&String> = new_kids.iter().filter(|k| !old_kids.contains(k)).collect();
    cx.check(
        "JWKS-11",
        !added.is_empty(),
        "no new key after rotation",
        &ex,
    );
    if !old_kids.iter().all(|k| new_kids.contains(k)) {
        cx.warn(
            "JWKS-11",
            "the previous key was dropped at once (no overlap)",
            Some(&ex),
        );
    }
    // A token signed after rotation verifies with the refreshed set.
    if let Some(e) = cx.client_credentials().await
        && let Some(j) = e.str_field("access_token").and_then(|t| Jwt::decode(&t))
    {
        match jwt::verify(&j, &after) {
            Ok(()) => cx.pass("JWKS-11", "a token signed after rotation verifies"),
            Err(m) => cx.fail("JWKS-11", format!("post-rotation token: {m}"), Some(&e)),
        }
    }
}

fn kids(set: &Value) -> Vec<String> {
    set.get("keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
