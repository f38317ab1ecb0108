//! IDT: the ID token (OIDC Core §2, §3.1.3.7), on tokens from the code flow.

use serde_json::Value;

use super::Ctx;
use crate::jwt::{self, Jwt};
use crate::login::{self, FlowOpts};

pub const IDS: &[&str] = &[
    "IDT-01", "IDT-02", "IDT-03", "IDT-04", "IDT-05", "IDT-06", "IDT-07", "IDT-08", "IDT-09",
    "IDT-10", "IDT-11", "IDT-12", "IDT-13", "IDT-15", "IDT-16", "IDT-17",
];

/// Core §5.1 claim types: `Err` names the first bad one.
pub fn claim_types(c: &Value) -> Result<(), String> {
    let strings = [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
    ];
    for s in strings {
        if let Some(v) = c.get(s)
            && !v.is_string()
        {
            return Err(format!("{s} is not a string"));
        }
    }
    for b in ["email_verified", "phone_number_verified"] {
        if let Some(v) = c.get(b)
            && !v.is_boolean()
        {
            return Err(format!("{b} is not a boolean"));
        }
    }
    if let Some(v) = c.get("updated_at")
        && !v.is_number()
    {
        return Err("updated_at is not a number".into());
    }
    if let Some(v) = c.get("address")
        && !v.is_object()
    {
        return Err("address is not an object".into());
    }
    Ok(())
}

pub async fn run(cx: &mut Ctx) {
    run_code(cx).await;
    hybrid(cx).await;
}

/// IDT-12 / IDT-17 (and the front-channel IDT-11 rule): `code id_token` with the public
/// client, when the target offers the hybrid flow.
async fn hybrid(cx: &mut Ctx) {
    if !cx
        .meta_lists("response_types_supported", "code id_token")
        .await
    {
        cx.skip("IDT-12", "the hybrid flow is not offered");
        cx.skip("IDT-17", "the hybrid flow is not offered");
        return;
    }
    let Some((public, mut opts)) = login::public_flow(cx) else {
        cx.skip(
            "IDT-12",
            "needs a public client allowed the hybrid flow (mode A)",
        );
        cx.skip(
            "IDT-17",
            "needs a public client allowed the hybrid flow (mode A)",
        );
        return;
    };
    opts.extra
        .push(("response_type".into(), "code id_token".into()));
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    let Some(last) = f.result.last().cloned() else {
        return;
    };
    let (Some(code), Some(front)) = (
        f.code().map(str::to_owned),
        f.result.param("id_token").and_then(Jwt::decode),
    ) else {
        cx.skip(
            "IDT-12",
            format!(
                "no code + id_token from the authorization endpoint: {:?} {:?}",
                f.result.param("error"),
                f.result.stopped
            ),
        );
        cx.skip("IDT-17", "no hybrid response");
        return;
    };
    let alg = front.h("alg").unwrap_or("RS256").to_owned();
    let want = jwt::half_hash(&alg, &code).unwrap_or_default();
    cx.check(
        "IDT-12",
        front.c("c_hash") == Some(want.as_str()),
        format!("c_hash {:?} (want {want})", front.c("c_hash")),
        &last,
    );
    if let Some(ex) = login::redeem(cx, &f, Some(&public), |_| {}).await {
        match ex.str_field("id_token").and_then(|t| Jwt::decode(&t)) {
            Some(back) => {
                let ok = back.c("sub") == front.c("sub") && back.c("iss") == front.c("iss");
                cx.check(
                    "IDT-17",
                    ok,
                    "the authorization- and token-endpoint ID tokens differ in iss or sub",
                    &ex,
                );
            }
            None => cx.fail("IDT-17", "no ID token from the token endpoint", Some(&ex)),
        }
    }
}

async fn run_code(cx: &mut Ctx) {
    if !login::can_login(cx) {
        cx.skip_all(IDS, "needs a user login (target has none)");
        return;
    }
    let Some(web) = cx.web() else { return };
    let Some(u) = cx.user_tokens().await else {
        cx.skip_all(IDS, "the code flow failed");
        return;
    };
    let ex = u.exchange.clone().unwrap_or_else(|| unreachable!());
    let Some(idt) = u.id_token.as_deref().and_then(Jwt::decode) else {
        cx.fail(
            "IDT-01",
            "no ID token (or not a JWS) from an openid code flow",
            Some(&ex),
        );
        return;
    };
    let meta = cx.meta().await;
    let algs: Vec<&str> = meta
        .get("id_token_signing_alg_values_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let alg = idt.h("alg").unwrap_or("");
    cx.check(
        "IDT-01",
        algs.contains(&alg) && alg != "none",
        format!("alg {alg} not among {algs:?}"),
        &ex,
    );
    let issuer = cx.issuer.clone();
    cx.check(
        "IDT-02",
        idt.c("iss") == Some(issuer.as_str()),
        format!("iss {:?} != {issuer}", idt.c("iss")),
        &ex,
    );
    let aud_ok = idt.aud_contains(&web.client_id);
    let extra_aud = match idt.claims.get("aud") {
        Some(Value::Array(a)) => a.len() > 1,
        _ => false,
    };
    cx.check(
        "IDT-03",
        aud_ok,
        format!("aud {:?} lacks the client_id", idt.claims.get("aud")),
        &ex,
    );
    if extra_aud {
        cx.warn(
            "IDT-03",
            "aud holds other audiences besides the client",
            Some(&ex),
        );
    }
    match idt.c("azp") {
        Some(azp) => {
            cx.check(
                "IDT-04",
                azp == web.client_id,
                format!("azp {azp} != client_id"),
                &ex,
            );
        }
        None if extra_aud => cx.fail("IDT-04", "several audiences and no azp", Some(&ex)),
        None => cx.pass("IDT-04", "no azp, single audience"),
    }
    let now = crate::clock::unix_now();
    let skew = 300;
    match idt.n("exp") {
        Some(exp) => {
            cx.check(
                "IDT-05",
                exp > now - skew && exp < now + 50 * 365 * 86400,
                format!("exp {exp} is in the past or implausible"),
                &ex,
            );
        }
        None => cx.fail("IDT-05", "no exp", Some(&ex)),
    }
    match idt.n("iat") {
        Some(iat) => {
            cx.check(
                "IDT-06",
                iat <= now + skew,
                format!("iat {iat} is in the future"),
                &ex,
            );
        }
        None => cx.fail("IDT-06", "no iat", Some(&ex)),
    }
    let sub = idt.c("sub").unwrap_or("").to_owned();
    let sub_ok =
        !sub.is_empty() && sub.len() <= 255 && sub.bytes().all(|b| (0x20..=0x7e).contains(&b));
    cx.check(
        "IDT-07",
        sub_ok,
        format!("sub {sub:?} missing, too long or not printable ASCII"),
        &ex,
    );
    cx.check(
        "IDT-08",
        idt.c("nonce") == u.nonce.as_deref(),
        format!("nonce {:?} != sent {:?}", idt.c("nonce"), u.nonce),
        &ex,
    );
    let jwks = cx.jwks().await;
    let several = jwks
        .get("keys")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    if several && idt.h("kid").is_none() {
        cx.fail(
            "IDT-09",
            "no kid although the JWKS holds several keys",
            Some(&ex),
        );
    }
    match jwt::verify(&idt, &jwks) {
        Ok(()) => cx.pass("IDT-09", ""),
        Err(e) => cx.fail("IDT-09", e, Some(&ex)),
    }
    cx.check(
        "IDT-10",
        alg == "RS256",
        format!("alg {alg} (no id_token_signed_response_alg registered: RS256 expected)"),
        &ex,
    );
    match (idt.c("at_hash"), &u.access_token) {
        (Some(h), Some(at)) => {
            let want = jwt::half_hash(alg, at).unwrap_or_default();
            cx.check("IDT-11", h == want, format!("at_hash {h} != {want}"), &ex);
        }
        _ => cx.pass("IDT-11", "no at_hash (optional in the code flow)"),
    }
    cx.check(
        "IDT-15",
        claim_types(&idt.claims).is_ok(),
        claim_types(&idt.claims).err().unwrap_or_default(),
        &ex,
    );
    let profile_claims: Vec<&str> = [
        "given_name",
        "family_name",
        "address",
        "phone_number",
        "birthdate",
        "picture",
    ]
    .into_iter()
    .filter(|c| idt.claims.get(*c).is_some())
    .collect();
    cx.check(
        "IDT-16",
        profile_claims.is_empty(),
        format!(
            "scope claims in the ID token although an access token was issued: {profile_claims:?}"
        ),
        &ex,
    );
    // 07 stability and 08 absence, 13 auth_time with max_age, from a second flow
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            nonce: false,
            extra: vec![("max_age".into(), "3600".into())],
            ..FlowOpts::default()
        },
    )
    .await
    else {
        return;
    };
    if let Some(ex2) = login::redeem(cx, &f, None, |_| {}).await
        && let Some(t2) = ex2.str_field("id_token").and_then(|t| Jwt::decode(&t))
    {
        cx.check(
            "IDT-07",
            t2.c("sub") == Some(sub.as_str()),
            "sub changed between two logins of the same user",
            &ex2,
        );
        cx.check(
            "IDT-08",
            t2.claims.get("nonce").is_none(),
            "a nonce came back although none was sent",
            &ex2,
        );
        match (t2.n("auth_time"), t2.n("iat")) {
            (Some(at), Some(iat)) => {
                cx.check(
                    "IDT-13",
                    at <= iat + 5,
                    format!("auth_time {at} later than iat {iat}"),
                    &ex2,
                );
            }
            _ => cx.fail(
                "IDT-13",
                "no auth_time although max_age was sent",
                Some(&ex2),
            ),
        }
    }
}
