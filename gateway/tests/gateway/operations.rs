//! Health, metrics and graceful shutdown.

use crate::harness::*;

#[tokio::test]
async fn health_and_metrics_are_served() {
    let s = Stack::start().await;
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    assert_eq!(
        s.http
            .get(s.url("/beds/hospitals"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let m = metrics(&s.gateway).await;
    assert!(m.contains("gateway_requests_total{api=\"CheckBedAvailability\",application=\"OpenIDApp\",outcome=\"forwarded\"} 1"), "{m}");
    assert!(m.contains("gateway_requests_total{api=\"CheckBedAvailability\",application=\"none\",outcome=\"unauthorized\"} 1"), "{m}");
    assert!(
        m.contains("gateway_validation_duration_seconds_count 1"),
        "{m}"
    );
    assert!(
        m.contains("authorization_server=\"ExternalOktaServer\",kind=\"jwks\",result=\"ok\"} 1"),
        "{m}"
    );
    assert!(!m.contains(&token[..30]));
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let url = s.url("/beds/slow?ms=500");
    let http = s.http.clone();
    let in_flight = tokio::spawn(async move {
        http.get(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status())
    });
    // Wait (by event, not by time) until the request is at the upstream.
    while s.echo.received.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let addr = s.gateway.local_addr();
    s.gateway.shutdown().await.unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
