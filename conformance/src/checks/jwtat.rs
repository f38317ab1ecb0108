//! JWTAT: the JWT access token profile (RFC 9068), where the target issues
//! JWT access tokens. Okta deviates (no `typ`, `cid`/`scp`): those are
//! recorded as documented deviations in its expectations file.

use std::collections::HashSet;

use serde_json::Value;

use super::Ctx;
use crate::jwt::{self, Jwt};

pub const IDS: &[&str] = &[
    "JWTAT-01", "JWTAT-02", "JWTAT-03", "JWTAT-04", "JWTAT-05", "JWTAT-06", "JWTAT-07", "JWTAT-08",
    "JWTAT-09", "JWTAT-10", "JWTAT-11",
];

pub async fn run(cx: &mut Ctx) {
    let Some(cc) = cx.cc_exchange().await else {
        cx.skip_all(IDS, "no access token");
        return;
    };
    let token = cc.str_field("access_token").unwrap_or_default();
    let Some(j) = Jwt::decode(&token) else {
        cx.skip_all(IDS, "the target issues opaque access tokens");
        return;
    };
    let svc = cx.service();
    let typ = j.h("typ").unwrap_or("").to_ascii_lowercase();
    cx.check(
        "JWTAT-01",
        typ == "at+jwt" || typ == "application/at+jwt",
        format!("header typ is {:?}, not at+jwt", j.h("typ")),
        &cc,
    );
    let alg = j.h("alg").unwrap_or("");
    cx.check(
        "JWTAT-02",
        !alg.is_empty() && !alg.eq_ignore_ascii_case("none") && !alg.starts_with("HS"),
        format!("alg {alg}"),
        &cc,
    );
    let missing: Vec<&str> = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]
        .into_iter()
        .filter(|c| j.claims.get(*c).is_none())
        .collect();
    cx.check(
        "JWTAT-03",
        missing.is_empty(),
        format!("missing claims: {}", missing.join(", ")),
        &cc,
    );
    cx.check(
        "JWTAT-04",
        j.c("iss") == Some(cx.issuer.as_str()),
        format!("iss {:?} != {}", j.c("iss"), cx.issuer),
        &cc,
    );
    let want_aud = svc
        .as_ref()
        .and_then(|s| s.resource.clone())
        .or_else(|| cx.target.server.audience.clone());
    match want_aud {
        Some(a) => {
            cx.check(
                "JWTAT-05",
                j.aud_contains(&a),
                format!("aud {:?}, expected {a}", j.claims.get("aud")),
                &cc,
            );
        }
        None => cx.skip("JWTAT-05", "the target file names no expected audience"),
    }
    if svc.as_ref().and_then(|s| s.scope.as_ref()).is_some() {
        cx.check(
            "JWTAT-06",
            j.claims.get("scope").is_some_and(Value::is_string),
            format!(
                "no space-delimited `scope` claim (has scp: {})",
                j.claims.get("scp").is_some()
            ),
            &cc,
        );
    } else {
        cx.skip("JWTAT-06", "no scope requested");
    }
    let cid = svc
        .as_ref()
        .map(|s| s.client_id.clone())
        .unwrap_or_default();
    cx.check(
        "JWTAT-07",
        j.c("client_id") == Some(cid.as_str()),
        format!("client_id {:?} (cid {:?})", j.c("client_id"), j.c("cid")),
        &cc,
    );
    // 08: client token's sub is the client; a user token's sub is the user
    let mut p = Vec::new();
    if j.c("sub") != Some(cid.as_str()) {
        p.push(format!(
            "client-credentials sub {:?} is not the client id",
            j.c("sub")
        ));
    }
    if let Some(u) = cx.user_tokens().await
        && let Some(ut) = u.access_token.as_deref().and_then(Jwt::decode)
        && (ut.c("sub") == Some(cid.as_str()) || ut.c("sub").is_none())
    {
        p.push(format!("user token sub {:?}", ut.c("sub")));
    }
    cx.check("JWTAT-08", p.is_empty(), p.join("; "), &cc);
    let jwks = cx.jwks().await;
    match jwt::verify(&j, &jwks) {
        Ok(()) => cx.pass("JWTAT-09", ""),
        Err(e) => cx.fail("JWTAT-09", e, Some(&cc)),
    }
    // 10: jti unique
    let mut jtis = HashSet::new();
    let mut n = 0;
    for _ in 0..5 {
        if let Some(t) = cx
            .client_credentials()
            .await
            .and_then(|e| e.str_field("access_token"))
            && let Some(jt) = Jwt::decode(&t).and_then(|x| x.c("jti").map(str::to_owned))
        {
            n += 1;
            jtis.insert(jt);
        }
    }
    if n == 0 {
        cx.fail("JWTAT-10", "no jti in access tokens", Some(&cc));
    } else {
        cx.check(
            "JWTAT-10",
            jtis.len() == n,
            format!("{} distinct jti of {n}", jtis.len()),
            &cc,
        );
    }
    // 11: exp - iat vs expires_in
    match (
        j.n("exp"),
        j.n("iat"),
        cc.field("expires_in").and_then(|v| v.as_i64()),
    ) {
        (Some(exp), Some(iat), Some(ei)) => {
            cx.check(
                "JWTAT-11",
                ((exp - iat) - ei).abs() <= 60,
                format!("exp-iat = {} but expires_in = {ei}", exp - iat),
                &cc,
            );
        }
        _ => cx.skip("JWTAT-11", "exp, iat or expires_in missing"),
    }
}
