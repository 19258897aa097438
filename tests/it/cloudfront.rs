//! Behind CloudFront, the viewer's IP and location come from CloudFront's headers, but only on
//! requests that carry the origin secret: anyone can send those headers to the API directly.

use axum::http::StatusCode;
use serde_json::json;
use shared::client::ORIGIN_VERIFY_HEADER;
use shared::domain::{Location, UserId};

use crate::support::*;

/// Registers through `call` adjustments; returns the stored session's IP and location.
async fn registered_from(
    env: &TestEnv,
    adjust: impl FnOnce(Call) -> Call,
) -> (Option<String>, Location) {
    let call = env
        .post("/v1/auth/register")
        .client_ip("203.0.113.10")
        .header("cloudfront-viewer-country", "NL")
        .header("cloudfront-viewer-city", "Amsterdam")
        .json(
            json!({"email": TestEnv::email("viewer"), "password": PASSWORD,
            "password2": PASSWORD, "first_name": "A", "last_name": "B"}),
        );
    let reply = env.send(adjust(call)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let user_id: UserId = reply.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let stored = env
        .ctx
        .store
        .find_user_sessions(user_id)
        .await
        .unwrap()
        .unwrap();
    let session = &stored.sessions[0];
    (session.ip.clone(), session.location.clone())
}

/// A way to dress a request up as coming from CloudFront.
type Spoof = fn(Call) -> Call;

#[tokio::test]
async fn spoofed_cloudfront_headers_without_the_origin_secret_are_ignored() {
    let env = TestEnv::with_config(|c| c.trust_geo_headers = true).await;
    let spoofs: [(&str, Spoof); 3] = [
        ("no origin secret", |call| {
            call.without_header(ORIGIN_VERIFY_HEADER)
                .header("cloudfront-viewer-address", "192.0.2.66:4321")
        }),
        ("a wrong origin secret", |call| {
            call.header(ORIGIN_VERIFY_HEADER, "guessed")
                .header("cloudfront-viewer-address", "192.0.2.66:4321")
        }),
        ("a prefix of the origin secret", |call| {
            call.header(ORIGIN_VERIFY_HEADER, &ORIGIN_SECRET[..4])
                .header("cloudfront-viewer-address", "[2001:db8::66]:4321")
        }),
    ];
    for (name, spoof) in spoofs {
        let (ip, location) = registered_from(&env, spoof).await;
        assert_eq!(
            ip.as_deref(),
            Some("203.0.113.10"),
            "{name}: the network's IP"
        );
        assert_eq!(location, Location::default(), "{name}: no location");
    }
}

#[tokio::test]
async fn requests_through_cloudfront_take_the_viewer_address_and_location() {
    let env = TestEnv::with_config(|c| c.trust_geo_headers = true).await;
    for (address, ip) in [
        ("192.0.2.66:4321", "192.0.2.66"),
        ("[2001:db8::66]:4321", "2001:db8::66"),
    ] {
        let (stored_ip, location) = registered_from(&env, |call| {
            call.header("cloudfront-viewer-address", address)
        })
        .await;
        assert_eq!(stored_ip.as_deref(), Some(ip), "{address}");
        assert_eq!(location.country.as_deref(), Some("NL"));
        assert_eq!(location.city.as_deref(), Some("Amsterdam"));
    }
}

#[tokio::test]
async fn without_trust_configured_even_the_origin_secret_changes_nothing() {
    let env = TestEnv::new().await;
    let (ip, location) = registered_from(&env, |call| {
        call.header(ORIGIN_VERIFY_HEADER, ORIGIN_SECRET)
            .header("cloudfront-viewer-address", "192.0.2.66:4321")
    })
    .await;
    assert_eq!(ip.as_deref(), Some("203.0.113.10"));
    assert_eq!(location, Location::default());
}
