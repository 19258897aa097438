//! The sessions service: a user's live sessions, their statistics and login history, and
//! ending sessions one by one or all at once.

use crate::audit::{self, EndedBy};
use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, Principal};
use crate::context::Context;
use crate::cursor::{self, Cursor, List};
use crate::domain::{
    CreatedVia, DeviceType, Location, LoginOutcome, LoginRecord, Session, SessionId, UserId,
};
use crate::error::{Error, Result};
use crate::http::Page;
use crate::users;
use crate::views::Timestamp;

/// A session as its owner (or an admin) sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// Whether this is the session of the request's own access token.
    pub current: bool,
    pub device_type: DeviceType,
    pub device_name: String,
    pub browser: String,
    pub os: String,
    pub ip: Option<String>,
    pub location: Location,
    pub created_at: Timestamp,
    pub last_active_at: Timestamp,
    pub expires_at: Timestamp,
    pub created_via: CreatedVia,
}

impl SessionView {
    fn new(session: &Session, current: Option<SessionId>) -> Self {
        SessionView {
            id: session.id.to_string(),
            current: Some(session.id) == current,
            device_type: session.device.device_type,
            device_name: session.device.device_name.clone(),
            browser: session.device.browser.clone(),
            os: session.device.os.clone(),
            ip: session.ip.clone(),
            location: session.location.clone(),
            created_at: session.created_at.into(),
            last_active_at: session.last_active_at.into(),
            expires_at: session.expires_at.into(),
            created_via: session.created_via,
        }
    }
}

/// One login attempt as shown in the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub id: String,
    pub at: Timestamp,
    pub outcome: LoginOutcome,
    pub method: CreatedVia,
    pub ip: Option<String>,
    pub device_type: DeviceType,
    pub browser: String,
    pub os: String,
    pub location: Location,
}

impl From<LoginRecord> for HistoryItem {
    fn from(record: LoginRecord) -> Self {
        HistoryItem {
            id: record.id.to_string(),
            at: record.at.into(),
            outcome: record.outcome,
            method: record.method,
            ip: record.ip,
            device_type: record.device.device_type,
            browser: record.device.browser,
            os: record.device.os,
            location: record.location,
        }
    }
}

/// A summary of a user's sessions and recent logins.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionStats {
    /// Live sessions.
    pub active: usize,
    /// The most live sessions a user may have.
    pub limit: usize,
    pub by_device_type: BTreeMap<String, usize>,
    pub by_browser: BTreeMap<String, usize>,
    pub by_created_via: BTreeMap<String, usize>,
    /// The last successful login within the history's 90 days.
    pub last_login_at: Option<Timestamp>,
    pub failed_attempts_30d: usize,
}

/// How many terminated sessions an action ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Terminated {
    pub terminated: usize,
}

/// How far back history and statistics look.
const HISTORY_DAYS: i64 = 90;

/// Where a session stands in a session list: most recently active first, then newest first.
/// Ordered ascending, so a list is sorted by it and a page continues with greater ranks.
type Rank = (Reverse<i64>, Reverse<SessionId>);

fn rank(session: &Session) -> Rank {
    (
        Reverse(session.last_active_at.timestamp_millis()),
        Reverse(session.id),
    )
}

/// The position of a rank in a cursor: `<last activity, epoch ms>/<session id>`.
fn position(rank: &Rank) -> String {
    format!("{}/{}", rank.0.0, rank.1.0)
}

fn parse_position(position: &str) -> Result<Rank> {
    let (millis, id) = position.split_once('/').ok_or_else(cursor::malformed)?;
    let millis = millis.parse().map_err(|_| cursor::malformed())?;
    let id = id.parse().map_err(|_| cursor::malformed())?;
    Ok((Reverse(millis), Reverse(id)))
}

/// A user's live sessions, most recently active first.
async fn live_sessions(ctx: &Context, user_id: UserId) -> Result<Vec<Session>> {
    let now = ctx.now();
    let account = ctx
        .store
        .find_user_sessions(user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    let mut live: Vec<Session> = account
        .sessions
        .into_iter()
        .filter(|s| s.is_live(now))
        .collect();
    live.sort_by_key(rank);
    Ok(live)
}

/// A page of at most `limit` live sessions of `user_id` after `cursor`, most recently active
/// first, with `current` marked. The user's partition is read whole (it holds at most
/// `max_sessions` live sessions), and the page is cut from it by rank, so a session that
/// became active meanwhile may move but the rest are neither repeated nor skipped.
async fn session_page(
    ctx: &Context,
    user_id: UserId,
    current: Option<SessionId>,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<SessionView>> {
    let key = &ctx.config.cursor_key;
    let list = List::Sessions(user_id);
    let after = key
        .open(&list, cursor.as_ref())?
        .map(|p| parse_position(&p))
        .transpose()?;
    let mut sessions: Vec<Session> = live_sessions(ctx, user_id)
        .await?
        .into_iter()
        .filter(|s| after.is_none_or(|after| rank(s) > after))
        .collect();
    let more = sessions.len() > limit;
    sessions.truncate(limit);
    let next = sessions.last().filter(|_| more).map(|s| position(&rank(s)));
    let items = sessions
        .iter()
        .map(|s| SessionView::new(s, current))
        .collect();
    Ok(key.page(&list, items, next.as_deref()))
}

/// A page of the caller's live sessions, most recently active first, the current one marked.
/// Fails with 400 `invalid_cursor` for a cursor this list did not hand out.
pub async fn list_own(
    ctx: &Context,
    who: &Principal,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<SessionView>> {
    session_page(ctx, who.user.id, Some(who.session.id), limit, cursor).await
}

/// A page of another user's live sessions, for admins; 404 when the user does not exist, 400
/// `invalid_cursor` for a cursor this list did not hand out.
pub async fn list_for_user(
    ctx: &Context,
    user_id: UserId,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<SessionView>> {
    session_page(ctx, user_id, None, limit, cursor).await
}

/// Statistics of the caller's sessions and logins.
pub async fn stats(ctx: &Context, who: &Principal) -> Result<SessionStats> {
    let now = ctx.now();
    let sessions = live_sessions(ctx, who.user.id).await?;
    let outcomes = ctx
        .store
        .login_outcomes_since(who.user.id, now - chrono::Duration::days(HISTORY_DAYS))
        .await?;
    let month_ago = now - chrono::Duration::days(30);
    let mut stats = SessionStats {
        active: sessions.len(),
        limit: ctx.config.max_sessions,
        by_device_type: BTreeMap::new(),
        by_browser: BTreeMap::new(),
        by_created_via: BTreeMap::new(),
        last_login_at: outcomes
            .iter()
            .find(|(_, o)| *o == LoginOutcome::Success)
            .map(|(at, _)| Timestamp::from(*at)),
        failed_attempts_30d: outcomes
            .iter()
            .filter(|(at, o)| *o != LoginOutcome::Success && *at >= month_ago)
            .count(),
    };
    for session in &sessions {
        *stats
            .by_device_type
            .entry(enum_name(&session.device.device_type))
            .or_default() += 1;
        *stats
            .by_browser
            .entry(session.device.browser.clone())
            .or_default() += 1;
        *stats
            .by_created_via
            .entry(enum_name(&session.created_via))
            .or_default() += 1;
    }
    Ok(stats)
}

fn enum_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A page of the caller's login history, newest first (90 days are kept).
pub async fn history(
    ctx: &Context,
    who: &Principal,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<HistoryItem>> {
    let key = &ctx.config.cursor_key;
    let list = List::History(who.user.id);
    let after = key.open(&list, cursor.as_ref())?;
    let since = ctx.now() - chrono::Duration::days(HISTORY_DAYS);
    let (records, next) = ctx
        .store
        .list_login_records(who.user.id, since, limit, after.as_deref())
        .await?;
    let items = records.into_iter().map(HistoryItem::from).collect();
    Ok(key.page(&list, items, next.as_deref()))
}

/// Ends another of the caller's sessions. The current one is 409 `use_logout`; a session that
/// is not the caller's (or does not exist) is 404.
pub async fn terminate(ctx: &Context, who: &Principal, session_id: SessionId) -> Result<()> {
    if session_id == who.session.id {
        return Err(Error::conflict(
            "use_logout",
            "this is the current session; use /v1/auth/logout",
        ));
    }
    let ended = audit::sessions_ended(who.user.id, EndedBy::OtherDevice, &[session_id]);
    let event = audit::prepare(ctx, ended);
    if ctx
        .store
        .delete_session(who.user.id, session_id, &event)
        .await?
    {
        audit::committed(&[event]);
        Ok(())
    } else {
        Err(Error::not_found("session"))
    }
}

/// Ends every session of the caller except the current one.
pub async fn terminate_others(ctx: &Context, who: &Principal) -> Result<Terminated> {
    let terminated =
        auth::end_all_sessions(ctx, who.user.id, Some(who.session.id), EndedBy::OtherDevice)
            .await?;
    Ok(Terminated { terminated })
}

/// Ends one session of another user, for admins; 404 when the user or the session does not
/// exist, 403 when a non-superuser `actor` targets a superuser (see [`crate::rbac::ensure_may_act_on`]).
pub async fn terminate_for_user(
    ctx: &Context,
    actor: &crate::domain::User,
    user_id: UserId,
    session_id: SessionId,
) -> Result<()> {
    let target = ctx
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    crate::rbac::ensure_may_act_on(actor, &target)?;
    let ended = audit::sessions_ended(user_id, EndedBy::Admin, &[session_id]);
    let event = audit::prepare(ctx, ended);
    if ctx
        .store
        .delete_session(user_id, session_id, &event)
        .await?
    {
        tracing::info!(%user_id, %session_id, "a session of the user ended by an administrator");
        audit::committed(&[event]);
        Ok(())
    } else {
        Err(Error::not_found("session"))
    }
}

/// Ends every session of a user, for admins; 404 when the user does not exist, 403 when a
/// non-superuser `actor` targets a superuser (see [`users::revoke_all`]).
pub async fn terminate_all_for_user(
    ctx: &Context,
    actor: &crate::domain::User,
    user_id: UserId,
) -> Result<Terminated> {
    let terminated = users::revoke_all(ctx, actor, user_id).await?;
    Ok(Terminated { terminated })
}
