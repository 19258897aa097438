//! The scheduled cleanup of expired items.

use axum::http::StatusCode;
use shared::domain::UserId;

use crate::support::*;

/// Runs the cleanup function with its scheduled-event fixture.
pub async fn run_cleanup(env: &TestEnv) -> shared::cleanup::CleanupReport {
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/cleanup/scheduled.json"
    ))
    .unwrap();
    cleanup::handle(&env.ctx, serde_json::from_str(&event).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn cleanup_removes_exactly_the_expired_items_of_every_kind_once() {
    let env = TestEnv::with_config(|c| c.cleanup_lookback_days = 40).await;
    let old_email = TestEnv::email("old");
    let old = env.register(&old_email).await;
    env.login(&old_email, "a wrong password").await;
    let old_id: UserId = old["user"]["id"].as_str().unwrap().parse().unwrap();

    env.clock.advance(chrono::Duration::days(31));
    let fresh = env.register(&TestEnv::email("fresh")).await;
    let report = run_cleanup(&env).await;
    let deleted = |kind: &str| report.deleted.get(kind).copied().unwrap_or(0);
    assert_eq!(deleted("session"), 1, "{report:?}");
    assert_eq!(deleted("lockout"), 1, "{report:?}");
    assert_eq!(
        deleted("rate"),
        2,
        "the per-IP counters of the first registration and the login: {report:?}"
    );
    assert_eq!(
        deleted("token"),
        1,
        "the first registration's verification token (24 hours): {report:?}"
    );
    assert_eq!(deleted("history"), 0, "history lives 90 days: {report:?}");
    assert_eq!(report.total(), 5, "{report:?}");

    let stored = env
        .ctx
        .store
        .find_user_sessions(old_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.sessions.is_empty(),
        "the expired session item is gone"
    );
    assert_eq!(
        env.me_status(&access(&fresh)).await,
        StatusCode::OK,
        "live sessions stay"
    );
    let history = env
        .ctx
        .store
        .login_outcomes_since(old_id, env.ctx.now() - chrono::Duration::days(90))
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "live history stays");

    let again = run_cleanup(&env).await;
    assert_eq!(again.total(), 0, "a second run changes nothing: {again:?}");
    assert_eq!(env.me_status(&access(&fresh)).await, StatusCode::OK);
}
