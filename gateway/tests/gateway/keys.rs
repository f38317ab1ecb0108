//! The key cache: rotation picked up on the first unknown `kid`, a flood of unknown `kid`s
//! costing one fetch, and stale keys serving (within bounds) while the JWKS is unreachable.

use crate::harness::*;

const KEYS: &str = "/oauth2/default/v1/keys";

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_the_first_unknown_kid() {
    let mut s = Stack::start().await;
    assert_eq!(s.idp.calls(KEYS).await, 1, "prefetched at start");
    s.idp.rotate("key-2");
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    assert_eq!(s.idp.calls(KEYS).await, 2);
    // Later tokens with the same kid are served from the cache.
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    assert_eq!(s.idp.calls(KEYS).await, 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_cooldown() {
    let s = Stack::start().await;
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    for i in 0..20 {
        let t = RsaKey::generate(&format!("random-{i}")).sign(&claims);
        assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401);
    }
    assert_eq!(s.idp.calls(KEYS).await, 2, "start + one refresh");
    // Valid tokens keep working meanwhile.
    let good = s.idp.token(&claims);
    assert_eq!(s.get("/beds/hospitals", &good).await.status(), 200);
    // After the cooldown another unknown kid may refresh again.
    s.clock.advance(11);
    let t = RsaKey::generate("random-late").sign(&s.idp.access_claims(
        OPENID_APP,
        &["beds.read"],
        T0 + 11,
    ));
    assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401);
    assert_eq!(s.idp.calls(KEYS).await, 3);
}

#[tokio::test]
async fn cached_keys_keep_serving_while_the_jwks_is_down_until_max_stale() {
    let s = Stack::start().await;
    s.idp.server.reset().await; // The AS stops answering.
    // Past the key set's max-age (300 s) but within max stale (600 s): still served.
    s.clock.advance(400);
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0 + 400));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    // Beyond the bound the gateway fails closed.
    s.clock.advance(600);
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0 + 1000));
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn an_expired_key_set_keeps_serving_while_it_is_refreshed_in_the_background() {
    let s = Stack::start().await;
    s.clock.advance(301); // past the key set's max-age of 300 s
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0 + 301));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    // The refresh happens behind the request; wait for it (an event, not a duration).
    for _ in 0..500 {
        if s.idp.calls(KEYS).await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(s.idp.calls(KEYS).await, 2);
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    assert_eq!(s.idp.calls(KEYS).await, 2, "fresh again: no further fetch");
}
