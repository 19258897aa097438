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
async fn a_rotated_token_inside_the_grace_gets_409_and_revokes_nothing() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("grace")).await;
    let rotated = refresh_with(&env, &refresh(&tokens)).await;
    env.clock.advance(chrono::Duration::seconds(5));
    let retry = refresh_with(&env, &refresh(&tokens)).await;
    assert_error(&retry, StatusCode::CONFLICT, "refresh_token_rotated");
    assert_eq!(env.me_status(&access(&rotated.body)).await, StatusCode::OK);
    assert_eq!(
        refresh_with(&env, &refresh(&rotated.body)).await.status,
        StatusCode::OK
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_of_one_token_have_exactly_one_winner() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("race")).await;
    let token = refresh(&tokens);
    let replies = futures::future::join_all((0..20).map(|_| refresh_with(&env, &token))).await;
    let winners: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for loser in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(loser, StatusCode::CONFLICT, "refresh_token_rotated");
    }
    assert_eq!(
        env.me_status(&access(&winners[0].body)).await,
        StatusCode::OK,
        "the race revoked nothing"
    );
}
