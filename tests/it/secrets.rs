//! Secrets come from Secrets Manager at cold start: the signing context reads the private key,
//! the verify-only context only the public key; nothing secret shows in `Debug`.

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use secrecy::ExposeSecret;
use shared::config::Config;
use shared::cursor::{Cursor, List};
use shared::domain::{SessionId, UserId};
use shared::tokens::{self, Signer};
use shared::{Context, SigningContext};

use crate::support::*;

pub fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .http_client(shared::config::http_client())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "sesame-tests"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// Creates a uniquely named secret; returns its ARN.
pub async fn create_secret(name: &str, value: &str) -> String {
    secrets_client()
        .create_secret()
        .name(format!(
            "sesame-test/{name}-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .secret_string(value)
        .send()
        .await
        .expect("LocalStack serves Secrets Manager")
        .arn
        .unwrap()
}

/// A deployment-like configuration: no local mode, secrets by ARN (a fresh cursor key secret;
/// the key secrets are for each test to name).
async fn deployed() -> Config {
    Config {
        aws_endpoint_url: Some(endpoint()),
        aws_calls: PATIENT,
        cursor_key_secret: Some(create_secret("cursor-key", &"cursor-key-".repeat(4)).await),
        ..Config::default()
    }
}

#[tokio::test]
async fn contexts_built_from_secrets_sign_and_verify() {
    let (signer, private_pem) = Signer::generate().unwrap();
    let signing_secret = create_secret("signing-key", private_pem.expose_secret()).await;
    let verify_secret = create_secret("verify-key", &signer.verifier().public_pem()).await;
    let password_secret = create_secret("admin-password", "a long admin passphrase").await;

    let signing = SigningContext::from_config(Config {
        signing_key_secret: Some(signing_secret),
        admin_password_secret: Some(password_secret),
        admin_email: Some("root@example.com".into()),
        ..deployed().await
    })
    .await
    .unwrap();
    assert_eq!(
        signing.config.admin_password(),
        Some("a long admin passphrase")
    );
    // The verify-only context never reads the signing key: naming a secret that does not exist
    // changes nothing for it.
    let verifying = Context::from_config(Config {
        verify_key_secret: Some(verify_secret),
        signing_key_secret: Some("sesame-test/no-such-secret".into()),
        ..deployed().await
    })
    .await
    .unwrap();
    assert_eq!(verifying.verifier.kid(), signer.verifier().kid());

    let now = Utc::now();
    let (token, _) = tokens::issue_access_token(
        &signing.signer,
        &signing.config,
        UserId::new(),
        SessionId::new(),
        now,
    )
    .unwrap();
    assert!(
        tokens::verify_access_token(&verifying.verifier, &verifying.config, &token, now).is_ok()
    );
    assert!(tokens::verify_access_token(&signing.verifier, &signing.config, &token, now).is_ok());

    // Both read the one cursor key: a list position one function seals, the other opens.
    let list = List::Sessions(UserId::new());
    let sealed = signing.config.cursor_key.seal(&list, "position");
    let opened = verifying
        .config
        .cursor_key
        .open(&list, Some(&Cursor::parse(&sealed).unwrap()))
        .unwrap();
    assert_eq!(opened.as_deref(), Some("position"));

    let shown = format!("{signing:?} {verifying:?}");
    assert!(!shown.contains("a long admin passphrase"), "{shown}");
    let key_body = private_pem
        .expose_secret()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(!shown.contains(&key_body), "{shown}");
}

#[tokio::test]
async fn without_a_key_secret_start_up_fails_outside_local_mode() {
    let error = SigningContext::from_config(deployed().await)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("SESAME_SIGNING_KEY_SECRET"),
        "{error}"
    );
    let error = Context::from_config(deployed().await).await.unwrap_err();
    assert!(
        error.to_string().contains("SESAME_VERIFY_KEY_SECRET"),
        "{error}"
    );
    let missing = "sesame-test/never-created";
    let error = SigningContext::from_config(Config {
        signing_key_secret: Some(missing.into()),
        ..deployed().await
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains(missing), "{error}");
}

#[tokio::test]
async fn without_a_cursor_key_secret_start_up_fails_outside_local_mode() {
    let (signer, private_pem) = Signer::generate().unwrap();
    let signing_secret = create_secret("signing-key", private_pem.expose_secret()).await;
    let verify_secret = create_secret("verify-key", &signer.verifier().public_pem()).await;
    let error = SigningContext::from_config(Config {
        signing_key_secret: Some(signing_secret),
        cursor_key_secret: None,
        ..deployed().await
    })
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("SESAME_CURSOR_KEY_SECRET"),
        "{error}"
    );
    let short = create_secret("short-cursor-key", "too short").await;
    let error = Context::from_config(Config {
        verify_key_secret: Some(verify_secret),
        cursor_key_secret: Some(short),
        ..deployed().await
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("at least"), "{error}");
}

#[tokio::test]
async fn a_secret_that_is_not_a_key_stops_start_up() {
    let not_a_key = create_secret("garbage", "not a PEM at all").await;
    assert!(
        SigningContext::from_config(Config {
            signing_key_secret: Some(not_a_key.clone()),
            ..deployed().await
        })
        .await
        .is_err()
    );
    assert!(
        Context::from_config(Config {
            verify_key_secret: Some(not_a_key),
            ..deployed().await
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn local_mode_generates_one_development_key_for_both_contexts() {
    let dir = std::env::temp_dir().join(format!("sesame-local-{}", uuid::Uuid::new_v4()));
    let local = Config {
        local_dev: true,
        dev_key_path: dir.join("key.pem").display().to_string(),
        ..deployed().await
    };
    let signing = SigningContext::from_config(local.clone()).await.unwrap();
    let verifying = Context::from_config(local).await.unwrap();
    assert_eq!(signing.verifier.kid(), verifying.verifier.kid());
    std::fs::remove_dir_all(dir).unwrap();
}
