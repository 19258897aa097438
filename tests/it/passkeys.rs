//! Passkeys through the auth routes against LocalStack, with webauthn-authenticator-rs's
//! software passkey as the authenticator: registration, sign-in with a passkey alone, the
//! passkey as a login's second step, challenges answered once and only for what they were
//! made for, forged answers, a cloned authenticator, and the owner-only list.
//!
//! The soft passkey keeps no resident (discoverable) credentials, so for a sign-in the test
//! does what a discoverable authenticator does by itself: it picks the credential (the request
//! lists none) and returns the user handle given at registration (the user's id). Chromium's
//! virtual authenticator runs the real discoverable flow in `browser::passkeys`.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::domain::{CreatedVia, UserId};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, RequestChallengeResponse, ResidentKeyRequirement,
};

use crate::mfa::{enrolled, first_step, second_step};
use crate::support::*;

/// The origin the test's pages would be on (local mode accepts `localhost` on any port).
pub fn origin() -> Url {
    Url::parse("http://localhost:3000").unwrap()
}

/// A person's authenticator.
pub fn authenticator() -> SoftPasskey {
    // `true`: it claims user verification (a PIN or biometric), which passkeys require.
    SoftPasskey::new(true)
}

pub fn user_id(tokens: &Value) -> UserId {
    tokens["user"]["id"].as_str().unwrap().parse().unwrap()
}

/// Runs a registration with `key` and returns the finish call's reply.
async fn add_passkey(
    env: &TestEnv,
    access: &str,
    key: &mut SoftPasskey,
    name: Option<&str>,
) -> Reply {
    let begun = env
        .send(env.post("/v1/auth/passkeys/register/begin").bearer(access))
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{:?}", begun.body);
    let mut options: CreationChallengeResponse =
        serde_json::from_value(begun.body["options"].clone()).unwrap();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    assert_eq!(
        selection.resident_key,
        Some(ResidentKeyRequirement::Required)
    );
    // The soft passkey cannot keep a resident credential: a plain one signs the same way.
    selection.resident_key = Some(ResidentKeyRequirement::Discouraged);
    selection.require_resident_key = false;
    let credential = key.do_registration(origin(), options).unwrap();
    let mut body = json!({"challenge_id": begun.body["challenge_id"], "credential": credential});
    if let Some(name) = name {
        body["name"] = name.into();
    }
    env.send(
        env.post("/v1/auth/passkeys/register/finish")
            .bearer(access)
            .json(body),
    )
    .await
}

/// Registers a passkey and returns its id.
pub async fn added(env: &TestEnv, access: &str, key: &mut SoftPasskey) -> String {
    let reply = add_passkey(env, access, key, None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Answers the request options `options` with `key`'s credential `id`, as a discoverable
/// authenticator of `user` would (see the module's note).
pub fn answer(key: &mut SoftPasskey, options: &Value, id: &str, user: UserId, at: &Url) -> Value {
    let mut options: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    if options.public_key.allow_credentials.is_empty() {
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: URL_SAFE_NO_PAD.decode(id).unwrap(),
            transports: None,
        }];
    }
    options.mediation = None;
    let mut credential = key.do_authentication(at.clone(), options).unwrap();
    credential.response.user_handle = Some(user.uuid().as_bytes().to_vec());
    serde_json::to_value(credential).unwrap()
}

/// A passkey sign-in's begin: its challenge id and options.
pub async fn begin_sign_in(env: &TestEnv) -> (Value, Value) {
    let begun = env.send(env.post("/v1/auth/passkeys/login/begin")).await;
    assert_eq!(begun.status, StatusCode::OK, "{:?}", begun.body);
    assert!(
        begun.body["options"]["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "a discoverable sign-in lists no credentials: {:?}",
        begun.body
    );
    (
        begun.body["challenge_id"].clone(),
        begun.body["options"].clone(),
    )
}

pub async fn finish_sign_in(env: &TestEnv, challenge_id: &Value, credential: Value) -> Reply {
    env.send(
        env.post("/v1/auth/passkeys/login/finish")
            .json(json!({"challenge_id": challenge_id, "credential": credential})),
    )
    .await
}

/// A whole passkey sign-in with `key`'s credential `id`.
async fn sign_in(env: &TestEnv, key: &mut SoftPasskey, id: &str, user: UserId) -> Reply {
    let (challenge_id, options) = begin_sign_in(env).await;
    let credential = answer(key, &options, id, user, &origin());
    finish_sign_in(env, &challenge_id, credential).await
}

async fn passkey_ids(env: &TestEnv, access: &str) -> Vec<String> {
    let list = env.send(env.get("/v1/auth/passkeys").bearer(access)).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    list.body["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The caller's own audit events of type `kind`, newest first.
async fn own_events(env: &TestEnv, access: &str, kind: &str) -> Vec<Value> {
    let reply = env
        .send(env.get("/v1/auth/me/events?limit=100").bearer(access))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let items = reply.body["items"].as_array().unwrap();
    items
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_registered_passkey_signs_in_alone_and_its_session_says_so() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("passkey")).await;
    let user = user_id(&tokens);
    let mut key = authenticator();

    let reply = add_passkey(&env, &access(&tokens), &mut key, Some("  Laptop  ")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["name"], "Laptop");
    assert!(reply.body["last_used_at"].is_null());
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(passkey_ids(&env, &access(&tokens)).await, vec![id.clone()]);

    env.clock.advance(chrono::Duration::minutes(1));
    let signed_in = sign_in(&env, &mut key, &id, user).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let new_access = access(&signed_in.body);
    assert_eq!(env.me_status(&new_access).await, StatusCode::OK);
    assert_eq!(signed_in.body["user"]["id"], tokens["user"]["id"]);

    let account = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    let session = account
        .sessions
        .iter()
        .find(|s| s.id.to_string() == signed_in.body["session_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(session.created_via, CreatedVia::Passkey);
    let history = env
        .send(env.get("/v1/sessions/history").bearer(&new_access))
        .await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    assert_eq!(
        history.body["items"][0]["method"], "passkey",
        "{:?}",
        history.body
    );

    // A second sign-in moves the counter on and is accepted too; the list shows the last use.
    env.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        sign_in(&env, &mut key, &id, user).await.status,
        StatusCode::OK
    );
    let list = env
        .send(env.get("/v1/auth/passkeys").bearer(&new_access))
        .await;
    let last_used: chrono::DateTime<chrono::Utc> = list.body["passkeys"][0]["last_used_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last_used, test_epoch() + chrono::Duration::minutes(2));

    let added = own_events(&env, &new_access, "passkey.added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["details"]["passkey_id"], id.as_str());
    let logins = own_events(&env, &new_access, "login.succeeded").await;
    assert!(
        logins.iter().any(|e| e["details"]["via"] == "passkey"),
        "{logins:?}"
    );
}

#[tokio::test]
async fn a_challenge_is_answered_once_and_only_for_what_and_whom_it_was_made() {
    let env = TestEnv::new().await;
    let ada = env.register(&TestEnv::email("ada")).await;
    let eve = env.register(&TestEnv::email("eve")).await;
    let mut key = authenticator();
    let id = added(&env, &access(&ada), &mut key).await;

    // A sign-in answer replayed: the challenge is gone.
    let (challenge_id, options) = begin_sign_in(&env).await;
    let credential = answer(&mut key, &options, &id, user_id(&ada), &origin());
    let first = finish_sign_in(&env, &challenge_id, credential.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let replayed = finish_sign_in(&env, &challenge_id, credential).await;
    assert_error(&replayed, StatusCode::BAD_REQUEST, "invalid_challenge");

    // A made-up challenge id, and one past its five minutes.
    let (challenge_id, options) = begin_sign_in(&env).await;
    let credential = answer(&mut key, &options, &id, user_id(&ada), &origin());
    let made_up = finish_sign_in(&env, &json!("not-a-challenge"), credential.clone()).await;
    assert_error(&made_up, StatusCode::BAD_REQUEST, "invalid_challenge");
    env.clock.advance(chrono::Duration::minutes(5));
    let late = finish_sign_in(&env, &challenge_id, credential).await;
    assert_error(&late, StatusCode::BAD_REQUEST, "invalid_challenge");

    // Ada's registration challenge finished by Eve: refused, and Ada's stays usable.
    let begun = env
        .send(
            env.post("/v1/auth/passkeys/register/begin")
                .bearer(&access(&ada)),
        )
        .await;
    let mut options: CreationChallengeResponse =
        serde_json::from_value(begun.body["options"].clone()).unwrap();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    selection.resident_key = Some(ResidentKeyRequirement::Discouraged);
    selection.require_resident_key = false;
    let credential = authenticator().do_registration(origin(), options).unwrap();
    let body = json!({"challenge_id": begun.body["challenge_id"], "credential": credential});
    let foreign = env
        .send(
            env.post("/v1/auth/passkeys/register/finish")
                .bearer(&access(&eve))
                .json(body.clone()),
        )
        .await;
    assert_error(&foreign, StatusCode::BAD_REQUEST, "invalid_challenge");
    assert!(passkey_ids(&env, &access(&eve)).await.is_empty());

    // A sign-in challenge presented to the registration: the wrong purpose.
    let (challenge_id, _) = begin_sign_in(&env).await;
    let wrong_purpose = env
        .send(
            env.post("/v1/auth/passkeys/register/finish")
                .bearer(&access(&ada))
                .json(json!({"challenge_id": challenge_id, "credential": body["credential"]})),
        )
        .await;
    assert_error(&wrong_purpose, StatusCode::BAD_REQUEST, "invalid_challenge");

    // A malformed credential is a 400 with the error shape.
    let malformed = env
        .send(
            env.post("/v1/auth/passkeys/login/finish")
                .json(json!({"challenge_id": "x", "credential": {"id": 1}})),
        )
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        malformed.body
    );
    assert!(malformed.body["error"]["code"].is_string());
}

#[tokio::test]
async fn forged_answers_are_refused() {
    let env = TestEnv::new().await;
    let ada = env.register(&TestEnv::email("ada")).await;
    let eve = env.register(&TestEnv::email("eve")).await;
    let mut ada_key = authenticator();
    let ada_id = added(&env, &access(&ada), &mut ada_key).await;
    let mut eve_key = authenticator();
    let eve_id = added(&env, &access(&eve), &mut eve_key).await;

    // A signature that does not verify.
    let (challenge_id, options) = begin_sign_in(&env).await;
    let mut credential = answer(&mut ada_key, &options, &ada_id, user_id(&ada), &origin());
    let signature = credential["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    credential["response"]["signature"] = URL_SAFE_NO_PAD.encode(bytes).into();
    let reply = finish_sign_in(&env, &challenge_id, credential).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");

    // An answer made on another origin within the relying party's domain (a page on a
    // subdomain the attacker controls), which the authenticator itself allows.
    let (challenge_id, options) = begin_sign_in(&env).await;
    let phishing = Url::parse("https://attacker.localhost").unwrap();
    let credential = answer(&mut ada_key, &options, &ada_id, user_id(&ada), &phishing);
    let reply = finish_sign_in(&env, &challenge_id, credential).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");

    // Eve's own passkey claiming to be Ada's account (her user handle swapped for Ada's).
    let (challenge_id, options) = begin_sign_in(&env).await;
    let credential = answer(&mut eve_key, &options, &eve_id, user_id(&ada), &origin());
    let reply = finish_sign_in(&env, &challenge_id, credential).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");

    // A deactivated account's passkey opens nothing.
    let admin = env.superuser().await;
    let deactivated = env
        .send(
            env.patch(&format!("/v1/users/{}", user_id(&ada)))
                .bearer(&access(&admin))
                .json(json!({"is_active": false})),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{:?}", deactivated.body);
    let reply = sign_in(&env, &mut ada_key, &ada_id, user_id(&ada)).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");
}

/// The table's DynamoDB client, for tampering with what is stored.
async fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .http_client(shared::config::http_client())
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_and_its_passkey_removed() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("clone")).await;
    let user = user_id(&tokens);
    let mut key = authenticator();
    let id = added(&env, &access(&tokens), &mut key).await;
    assert_eq!(
        sign_in(&env, &mut key, &id, user).await.status,
        StatusCode::OK
    );

    // A copy of the key was used 50 times elsewhere: the stored counter is ahead of this one.
    let table = env.ctx.store.table_name().to_owned();
    let item_key = [
        ("pk".to_owned(), AttributeValue::S(format!("USER#{user}"))),
        ("sk".to_owned(), AttributeValue::S(format!("PASSKEY#{id}"))),
    ];
    let client = dynamodb().await;
    let item = client
        .get_item()
        .table_name(&table)
        .set_key(Some(item_key.clone().into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut credential: Value = serde_json::from_str(item["credential"].as_s().unwrap()).unwrap();
    credential["cred"]["counter"] = 50.into();
    client
        .update_item()
        .table_name(&table)
        .set_key(Some(item_key.into()))
        .update_expression("SET credential = :c")
        .expression_attribute_values(":c", AttributeValue::S(credential.to_string()))
        .send()
        .await
        .unwrap();

    let reply = sign_in(&env, &mut key, &id, user).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");
    assert!(passkey_ids(&env, &access(&tokens)).await.is_empty());
    let removed = own_events(&env, &access(&tokens), "passkey.removed").await;
    assert_eq!(
        removed[0]["details"]["reason"], "possible_clone",
        "{removed:?}"
    );
}

#[tokio::test]
async fn only_the_owner_lists_renames_and_removes_a_passkey() {
    let env = TestEnv::new().await;
    let ada = env.register(&TestEnv::email("ada")).await;
    let eve = env.register(&TestEnv::email("eve")).await;
    let mut key = authenticator();
    let id = added(&env, &access(&ada), &mut key).await;
    let path = format!("/v1/auth/passkeys/{id}");

    let renamed = env
        .send(
            env.patch(&path)
                .bearer(&access(&ada))
                .json(json!({"name": "Phone"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "Phone");
    let blank = env
        .send(
            env.patch(&path)
                .bearer(&access(&ada))
                .json(json!({"name": "  "})),
        )
        .await;
    assert_error(&blank, StatusCode::BAD_REQUEST, "validation_failed");

    assert!(passkey_ids(&env, &access(&eve)).await.is_empty());
    let theirs = env
        .send(
            env.patch(&path)
                .bearer(&access(&eve))
                .json(json!({"name": "Mine"})),
        )
        .await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "not_found");
    let theirs = env.send(env.delete(&path).bearer(&access(&eve))).await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "not_found");
    let anonymous = env.send(env.get("/v1/auth/passkeys")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let removed = env.send(env.delete(&path).bearer(&access(&ada))).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{:?}", removed.body);
    let again = env.send(env.delete(&path).bearer(&access(&ada))).await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    let reply = sign_in(&env, &mut key, &id, user_id(&ada)).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_passkey");
    let renamed = own_events(&env, &access(&ada), "passkey.renamed").await;
    assert_eq!(renamed.len(), 1, "{renamed:?}");
    let removed = own_events(&env, &access(&ada), "passkey.removed").await;
    assert_eq!(removed[0]["details"]["reason"], "removed", "{removed:?}");
    assert_eq!(removed[0]["details"]["passkey_id"], id.as_str());

    // The same authenticator cannot be registered twice on one account.
    let mut twice = authenticator();
    added(&env, &access(&ada), &mut twice).await;
    let begun = env
        .send(
            env.post("/v1/auth/passkeys/register/begin")
                .bearer(&access(&ada)),
        )
        .await;
    assert_eq!(
        begun.body["options"]["publicKey"]["excludeCredentials"]
            .as_array()
            .map_or(0, Vec::len),
        1,
        "{:?}",
        begun.body
    );
}

#[tokio::test]
async fn a_passkey_completes_a_login_that_needs_a_second_factor() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "two-factor").await;
    let mut key = authenticator();
    let id = added(&env, &user.access(), &mut key).await;

    let login = env.login(&user.email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(
        login.body["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );
    let mfa_token = login.body["mfa_token"].as_str().unwrap().to_owned();
    let begun = env
        .send(
            env.post("/v1/auth/login/mfa/passkey")
                .json(json!({"mfa_token": mfa_token})),
        )
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{:?}", begun.body);
    let listed = &begun.body["options"]["publicKey"]["allowCredentials"];
    assert_eq!(listed[0]["id"], id.as_str(), "{listed:?}");

    // An answer to another login's challenge does not complete this one.
    let other_token = first_step(&env, &user.email).await;
    let other = env
        .send(
            env.post("/v1/auth/login/mfa/passkey")
                .json(json!({"mfa_token": other_token})),
        )
        .await;
    let credential = answer(&mut key, &other.body["options"], &id, user.id(), &origin());
    let crossed = second_step(
        &env,
        &mfa_token,
        json!({"passkey": {"challenge_id": other.body["challenge_id"], "credential": credential}}),
    )
    .await;
    assert_error(&crossed, StatusCode::UNAUTHORIZED, "invalid_code");

    let credential = answer(&mut key, &begun.body["options"], &id, user.id(), &origin());
    let passkey = json!({"challenge_id": begun.body["challenge_id"], "credential": credential});
    let both = second_step(
        &env,
        &mfa_token,
        json!({"passkey": passkey, "code": "123456"}),
    )
    .await;
    assert_error(&both, StatusCode::BAD_REQUEST, "validation_failed");
    let done = second_step(&env, &mfa_token, json!({"passkey": passkey})).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(env.me_status(&access(&done.body)).await, StatusCode::OK);

    // A passkey sign-in alone needs no second step: the passkey verified its user.
    let alone = sign_in(&env, &mut key, &id, user.id()).await;
    assert_eq!(alone.status, StatusCode::OK, "{:?}", alone.body);
}
