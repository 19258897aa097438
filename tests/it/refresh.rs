//! Refresh-token rotation, reuse detection and the grace window.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::*;

async fn refresh_with(env: &TestEnv, token: &str) -> Reply {
    env.send(
        env.post("/v1/auth/refresh")
            .json(json!({"refresh_token": token})),
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_the_pair() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("rotate")).await;
    let reply = refresh_with(&env, &refresh(&tokens)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_ne!(refresh(&reply.body), refresh(&tokens));
    assert_eq!(
        reply.body["session_id"], tokens["session_id"],
        "rotation keeps the session"
    );
    assert_eq!(env.me_status(&access(&reply.body)).await, StatusCode::OK);
    let next = refresh_with(&env, &refresh(&reply.body)).await;
    assert_eq!(next.status, StatusCode::OK, "the new token works once");
}

#[tokio::test]
async fn a_rotated_token_inside_the_grace_gets_the_same_successor_and_revokes_nothing() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("grace")).await;
    let rotated = refresh_with(&env, &refresh(&tokens)).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    env.clock.advance(chrono::Duration::seconds(5));
    // A second tab (or a retry after a lost answer) presents the old token: the same successor.
    let retry = refresh_with(&env, &refresh(&tokens)).await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(refresh(&retry.body), refresh(&rotated.body));
    assert_eq!(retry.body["session_id"], rotated.body["session_id"]);
    assert_eq!(env.me_status(&access(&retry.body)).await, StatusCode::OK);
    assert_eq!(env.me_status(&access(&rotated.body)).await, StatusCode::OK);
    assert_eq!(
        refresh_with(&env, &refresh(&rotated.body)).await.status,
        StatusCode::OK,
        "the successor rotates as usual"
    );
}

#[tokio::test]
async fn a_token_two_rotations_old_revokes_the_session_even_inside_the_grace() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("two-old")).await;
    let first = refresh_with(&env, &refresh(&tokens)).await;
    let second = refresh_with(&env, &refresh(&first.body)).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    env.clock.advance(chrono::Duration::seconds(2));
    // Its successor was rotated already: both circulate, so one is a thief's.
    let stale = refresh_with(&env, &refresh(&tokens)).await;
    assert_error(&stale, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    assert_eq!(
        env.me_status(&access(&second.body)).await,
        StatusCode::UNAUTHORIZED,
        "the session is ended"
    );
    assert_eq!(
        refresh_with(&env, &refresh(&second.body)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_successor_is_not_stored_and_cannot_be_made_without_the_server_key() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("derive")).await;
    let token = shared::tokens::RefreshToken::parse(&refresh(&tokens)).unwrap();
    let rotated = refresh_with(&env, &refresh(&tokens)).await;
    assert_eq!(
        refresh(&rotated.body),
        env.ctx.signer.successor(&token).expose(),
        "the successor is derived from the presented token"
    );
    // Another server key derives another successor.
    let (other, _) = shared::tokens::Signer::generate().unwrap();
    assert_ne!(other.successor(&token).expose(), refresh(&rotated.body));
    // Only hashes are stored: the session holds neither token in clear.
    let user = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    let session = tokens["session_id"].as_str().unwrap().parse().unwrap();
    let (_, stored) = env
        .ctx
        .store
        .find_user_and_session(user, session)
        .await
        .unwrap();
    let stored = format!("{:?}", stored.unwrap());
    let secret = refresh(&rotated.body)
        .rsplit('.')
        .next()
        .unwrap()
        .to_owned();
    assert!(!stored.contains(&secret), "{stored}");
}

#[tokio::test]
async fn a_reused_token_after_the_grace_revokes_the_session() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("reuse")).await;
    let rotated = refresh_with(&env, &refresh(&tokens)).await;
    env.clock.advance(chrono::Duration::seconds(11));
    let reuse = refresh_with(&env, &refresh(&tokens)).await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    assert_eq!(
        env.me_status(&access(&rotated.body)).await,
        StatusCode::UNAUTHORIZED,
        "the thief's pair dies too"
    );
    assert_eq!(
        refresh_with(&env, &refresh(&rotated.body)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_made_up_secret_for_a_real_session_is_refused_and_revokes_nothing() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("forge")).await;
    let forged = shared::tokens::RefreshToken::generate(
        tokens["user"]["id"].as_str().unwrap().parse().unwrap(),
        tokens["session_id"].as_str().unwrap().parse().unwrap(),
    );
    let reply = refresh_with(&env, &forged.expose()).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    assert_eq!(env.me_status(&access(&tokens)).await, StatusCode::OK);
    assert_eq!(
        refresh_with(&env, &refresh(&tokens)).await.status,
        StatusCode::OK
    );
    for garbage in ["", "nonsense", "a.b.c"] {
        assert_error(
            &refresh_with(&env, garbage).await,
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
        );
    }
}

/// Twenty tabs refresh one token at once (a barrier releases them together): whichever
/// writes the rotation, every one gets the same successor, and nothing is revoked. This holds
/// for every interleaving: a call that read the session before the rotation finds the same
/// successor written, one that read after it finds its token rotated within the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_of_one_token_all_get_the_same_successor() {
    let env = std::sync::Arc::new(TestEnv::new().await);
    let tokens = env.register(&TestEnv::email("race")).await;
    let token = refresh(&tokens);
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks = (0..20).map(|_| {
        let (env, start, token) = (env.clone(), start.clone(), token.clone());
        tokio::spawn(async move {
            start.wait().await;
            refresh_with(&env, &token).await
        })
    });
    let replies: Vec<Reply> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(refresh(&reply.body), refresh(&replies[0].body));
        assert_eq!(env.me_status(&access(&reply.body)).await, StatusCode::OK);
    }
    assert_ne!(refresh(&replies[0].body), token);
    assert_eq!(
        refresh_with(&env, &refresh(&replies[0].body)).await.status,
        StatusCode::OK,
        "the race revoked nothing"
    );
}
