//! Access-token verification: the JWT attack corpus, JWKS and expiry.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::*;

/// Signs `claims` with `key` under a header of the given algorithm, `typ` and `kid`.
fn sign(alg: Algorithm, key: &EncodingKey, typ: Option<&str>, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An HS256 token keyed with `key`, made by hand: Sesame's jsonwebtoken provider signs nothing
/// but EdDSA.
fn hs256(key: &[u8], kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let message = format!("{}.{}", b64(&header), b64(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn the_token_crypto_knows_only_eddsa() {
    let env = TestEnv::new().await;
    let claims = json!({"sub": "x"});
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::PS256,
    ] {
        let key = EncodingKey::from_secret(b"a secret");
        assert!(
            jsonwebtoken::encode(&Header::new(alg), &claims, &key).is_err(),
            "{alg:?} must not sign"
        );
    }
    let ours = EncodingKey::from_ed_pem(env.signing_pem.as_bytes()).unwrap();
    assert!(jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &ours).is_ok());
}

#[tokio::test]
async fn the_jwt_attack_corpus_is_refused() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("jwt")).await;
    let kid = env.ctx.verifier.kid().to_owned();
    let ours = EncodingKey::from_ed_pem(env.signing_pem.as_bytes()).unwrap();
    let (_, foreign_pem) = shared::tokens::Signer::generate().unwrap();
    let foreign = EncodingKey::from_ed_pem(foreign_pem.expose_secret().as_bytes()).unwrap();
    let jwks = serde_json::to_value(env.ctx.verifier.jwks()).unwrap();
    let public_x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let now = env.ctx.now().timestamp();
    let claims = json!({
        "iss": "sesame", "aud": "sesame-api", "sub": tokens["user"]["id"], "sid": tokens["session_id"],
        "iat": now, "exp": now + 600, "jti": "test"
    });
    let with = |field: &str, value: Value| {
        let mut changed = claims.clone();
        changed[field] = value;
        changed
    };

    let control = sign(Algorithm::EdDSA, &ours, Some("at+jwt"), &kid, &claims);
    assert_eq!(
        env.me_status(&control).await,
        StatusCode::OK,
        "a well-formed forged-by-us token passes"
    );

    let valid_parts: Vec<&str> = control.split('.').collect();
    let corpus: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
                b64(&claims)
            ),
        ),
        (
            "HS256 keyed with the public key",
            hs256(&public_x, &kid, &claims),
        ),
        (
            "foreign key with our kid",
            sign(Algorithm::EdDSA, &foreign, Some("at+jwt"), &kid, &claims),
        ),
        (
            "unknown kid",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                "someone-else",
                &claims,
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("exp", json!(now - 3600)),
            ),
        ),
        (
            "issued in the future",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("iat", json!(now + 3600)),
            ),
        ),
        (
            "not valid before a time in the future",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("nbf", json!(now + 3600)),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("aud", json!("other-api")),
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("iss", json!("evil")),
            ),
        ),
        (
            "wrong typ",
            sign(Algorithm::EdDSA, &ours, Some("JWT"), &kid, &claims),
        ),
        (
            "missing typ",
            sign(Algorithm::EdDSA, &ours, None, &kid, &claims),
        ),
        (
            "missing exp",
            sign(Algorithm::EdDSA, &ours, Some("at+jwt"), &kid, &{
                let mut c = claims.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                valid_parts[0],
                b64(&with("sub", json!(uuid::Uuid::now_v7().to_string()))),
                valid_parts[2]
            ),
        ),
        (
            "unknown session",
            sign(
                Algorithm::EdDSA,
                &ours,
                Some("at+jwt"),
                &kid,
                &with("sid", json!(uuid::Uuid::now_v7().to_string())),
            ),
        ),
        ("refresh token as bearer", refresh(&tokens)),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty", String::new()),
    ];
    for (name, token) in corpus {
        let reply = env.send(env.get("/v1/auth/me").bearer(&token)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {:?}",
            reply.body
        );
        assert!(
            ["invalid_token", "session_ended", "missing_token"].contains(&reply.code()),
            "{name}: {:?}",
            reply.body
        );
    }
    let no_header = env.send(env.get("/v1/auth/me")).await;
    assert_error(&no_header, StatusCode::UNAUTHORIZED, "missing_token");
    let basic = env
        .send(
            env.get("/v1/auth/me")
                .header("authorization", "Basic dXNlcjpwYXNz"),
        )
        .await;
    assert_error(&basic, StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn access_tokens_expire_but_the_session_refreshes() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("exp")).await;
    env.clock.advance(chrono::Duration::minutes(16));
    let reply = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_token");
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(
        env.me_status(&access(&refreshed.body)).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn jwks_verifies_issued_tokens_offline() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("jwks")).await;
    let reply = env.send(env.get("/.well-known/jwks.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(reply.body.clone()).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(reply.body["keys"][0]["kty"], "OKP");
    assert_eq!(reply.body["keys"][0]["crv"], "Ed25519");
    assert!(reply.body["keys"][0].get("d").is_none(), "no private part");
    let token = access(&tokens);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["sesame-api"]);
    validation.set_issuer(&["sesame"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], tokens["user"]["id"]);
    assert_eq!(claims["sid"], tokens["session_id"]);
}
