//! The soak: many virtual clients living as real users would, all at once, for a fixed time.
//!
//! Each client takes one user after another. A user registers from an address of its own, then
//! works through [`ROUNDS`] rounds (the first on the registration's session, every later one
//! after a login), each ending in a logout: profile, sessions, quota (read, consume, and every
//! other round a release, as after a failed upload), its support ticket (created in the first
//! round, then listed, read and answered), a refresh, the profile again with the new token. No
//! limit of the service is raised: one registration and [`ROUNDS`] − 1 logins per address stay
//! under the per-IP limits, a user's logins never overlap, and quota and ticket use stay under
//! their defaults. A refused request counts as an error under its operation, status and error
//! code, and the client abandons that user for a new one, as a real client would start over.
//!
//! Latencies are kept for requests started after the warm-up; errors are counted over the whole
//! run. The resident memory of this process (and of DynamoDB Local when the bench started it)
//! is sampled at the start and every [`SAMPLE_EVERY`] until the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::BoxError;
use shared::store::CallCounter;
use tower::ServiceExt;

use crate::{call, field, login, memory_kib, millis, percentile, register};

/// Rounds of work per user; the first uses the registration's session.
const ROUNDS: u32 = 4;
/// How often resident memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// The operations in the order the report lists them.
const OPERATIONS: [&str; 13] = [
    "register",
    "login",
    "me",
    "refresh",
    "sessions list",
    "quota read",
    "quota consume",
    "quota release",
    "ticket create",
    "tickets list",
    "ticket read",
    "ticket respond",
    "logout",
];

/// What to run: `clients` at once for `duration`, the first `warm_up` of it unmeasured.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub clients: usize,
    pub duration: Duration,
    pub warm_up: Duration,
}

impl Plan {
    /// The plan from `BENCH_SOAK_SECS` (default 60; 0 skips the soak), `BENCH_SOAK_CLIENTS`
    /// (default 32) and `BENCH_SOAK_WARMUP_SECS` (default a sixth of the run). Fails on a value
    /// that is not a whole number, or a warm-up as long as the run.
    pub fn from_env() -> Result<Option<Plan>, BoxError> {
        let number = |name: &str, default: u64| -> Result<u64, BoxError> {
            match std::env::var(name) {
                Ok(raw) => raw
                    .parse()
                    .map_err(|e| format!("{name} = {raw:?}: {e}").into()),
                Err(_) => Ok(default),
            }
        };
        let secs = number("BENCH_SOAK_SECS", 60)?;
        if secs == 0 {
            return Ok(None);
        }
        let warm_up = number("BENCH_SOAK_WARMUP_SECS", secs / 6)?;
        if warm_up >= secs {
            return Err("BENCH_SOAK_WARMUP_SECS must be shorter than BENCH_SOAK_SECS".into());
        }
        Ok(Some(Plan {
            clients: usize::try_from(number("BENCH_SOAK_CLIENTS", 32)?.max(1))?,
            duration: Duration::from_secs(secs),
            warm_up: Duration::from_secs(warm_up),
        }))
    }
}

/// Runs the soak against `router` and returns its measurements. `counter` is the store's call
/// counter (taken, so it restarts at zero); `dynamodb_pid` is DynamoDB Local's process, when
/// the bench started it. Fails only when the bench itself is wrong (a response it cannot read).
pub async fn run(
    plan: Plan,
    router: axum::Router,
    counter: &CallCounter,
    dynamodb_pid: Option<u32>,
) -> Result<Report, BoxError> {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        router,
        next_user: AtomicU32::new(0),
        measured_from: started + plan.warm_up,
        deadline: started + plan.duration,
    });
    counter.take();
    let watcher = tokio::spawn(watch_memory(started, shared.deadline, dynamodb_pid));
    let clients: Vec<_> = (0..plan.clients)
        .map(|_| tokio::spawn(live(Arc::clone(&shared))))
        .collect();
    let mut tally = Tally::default();
    for client in clients {
        tally.merge(client.await??);
    }
    let measured = shared.measured_from.elapsed();
    let mut memory = watcher.await?;
    memory.push(Sample::take(started, dynamodb_pid));
    Ok(Report {
        plan,
        elapsed: started.elapsed(),
        measured,
        users: shared.next_user.load(Ordering::Relaxed),
        tally,
        dynamodb_requests: counter.take().values().sum(),
        memory,
        dynamodb_pid,
    })
}

/// What every client shares.
struct Shared {
    router: axum::Router,
    /// The next user's number: its e-mail and its address.
    next_user: AtomicU32,
    /// Requests started from here on are measured.
    measured_from: Instant,
    /// No request starts after this.
    deadline: Instant,
}

/// One client's (or all clients') record.
#[derive(Default)]
struct Tally {
    /// Latency of each measured request, by operation.
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    /// Refused requests by operation, status and error code.
    errors: BTreeMap<(&'static str, u16, String), u64>,
    /// Every answered request, warm-up included.
    answered: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (operation, latencies) in other.latencies {
            self.latencies
                .entry(operation)
                .or_default()
                .extend(latencies);
        }
        for (key, count) in other.errors {
            *self.errors.entry(key).or_default() += count;
        }
        self.answered += other.answered;
    }
}

/// Why a user's life ended early.
enum Halt {
    /// The run is over.
    Over,
    /// The service refused a request (already counted).
    Refused,
    /// The bench could not build a request or read an answer.
    Failed(BoxError),
}

impl<E: Into<BoxError>> From<E> for Halt {
    fn from(error: E) -> Halt {
        Halt::Failed(error.into())
    }
}

/// A virtual client: users one after another until the deadline.
async fn live(shared: Arc<Shared>) -> Result<Tally, BoxError> {
    let mut client = Client {
        shared,
        tally: Tally::default(),
    };
    loop {
        match client.one_user().await {
            Ok(()) | Err(Halt::Refused) => {}
            Err(Halt::Over) => return Ok(client.tally),
            Err(Halt::Failed(e)) => return Err(e),
        }
    }
}

struct Client {
    shared: Arc<Shared>,
    tally: Tally,
}

impl Client {
    /// Sends one request for `operation`; its answer must have status `expected`. Returns the
    /// JSON body (`Null` when empty). Refuses to start after the deadline.
    async fn send(
        &mut self,
        operation: &'static str,
        request: Request<Body>,
        expected: StatusCode,
    ) -> Result<Value, Halt> {
        let started = Instant::now();
        if started >= self.shared.deadline {
            return Err(Halt::Over);
        }
        let response = self.shared.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if started >= self.shared.measured_from {
            self.tally
                .latencies
                .entry(operation)
                .or_default()
                .push(started.elapsed());
        }
        self.tally.answered += 1;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        if status != expected {
            let code = body["error"]["code"].as_str().unwrap_or("-").to_owned();
            *self
                .tally
                .errors
                .entry((operation, status.as_u16(), code))
                .or_default() += 1;
            return Err(Halt::Refused);
        }
        Ok(body)
    }

    /// One user's life: registration, then [`ROUNDS`] rounds of work.
    async fn one_user(&mut self) -> Result<(), Halt> {
        let user = self.shared.next_user.fetch_add(1, Ordering::Relaxed);
        // 10.1.0.0 on: apart from the sequential measurements' 10.0.x.x.
        let ip = Ipv4Addr::from(0x0A01_0000_u32.wrapping_add(user));
        let email = format!("soak-{user}-{}@example.test", uuid::Uuid::new_v4().simple());
        let mut ticket = None;
        for round in 0..ROUNDS {
            let tokens = if round == 0 {
                self.send("register", register(&email, ip)?, StatusCode::CREATED)
                    .await?
            } else {
                self.send("login", login(&email, ip)?, StatusCode::OK)
                    .await?
            };
            self.round(&tokens, round, &mut ticket, ip).await?;
        }
        Ok(())
    }

    /// One round of work on the session `tokens` belongs to, ending in its logout. `ticket` is
    /// the user's ticket, created in the first round.
    async fn round(
        &mut self,
        tokens: &Value,
        round: u32,
        ticket: &mut Option<String>,
        ip: Ipv4Addr,
    ) -> Result<(), Halt> {
        let access = field(tokens, "access_token")?;
        let as_user = |method, path: &str, body| call(method, path, Some(&access), body, ip);
        let ok = StatusCode::OK;
        self.send("me", as_user(Method::GET, "/v1/auth/me", None)?, ok)
            .await?;
        self.send(
            "sessions list",
            as_user(Method::GET, "/v1/sessions", None)?,
            ok,
        )
        .await?;
        self.send("quota read", as_user(Method::GET, "/v1/quota", None)?, ok)
            .await?;
        let key = format!("upload-{round}");
        let consumption = json!({
            "videos": 1, "duration_seconds": 30.5, "file_size_mb": 12.5, "idempotency_key": key
        });
        let consume = as_user(Method::POST, "/v1/quota/consume", Some(consumption))?;
        self.send("quota consume", consume, ok).await?;
        let id = match ticket {
            Some(id) => {
                let list = as_user(Method::GET, "/v1/tickets", None)?;
                self.send("tickets list", list, ok).await?;
                id.clone()
            }
            None => {
                let new = json!({
                    "subject": "Upload stalls", "description": "The upload stops at 90%.",
                    "category": "technical", "priority": "normal"
                });
                let create = as_user(Method::POST, "/v1/tickets", Some(new))?;
                let created = self
                    .send("ticket create", create, StatusCode::CREATED)
                    .await?;
                ticket.insert(field(&created, "id")?).clone()
            }
        };
        let path = format!("/v1/tickets/{id}");
        self.send("ticket read", as_user(Method::GET, &path, None)?, ok)
            .await?;
        let message = json!({ "message": format!("Still stalling (round {round}).") });
        let respond = as_user(Method::POST, &format!("{path}/responses"), Some(message))?;
        self.send("ticket respond", respond, StatusCode::CREATED)
            .await?;
        let refresh = json!({ "refresh_token": field(tokens, "refresh_token")? });
        let refresh = call(Method::POST, "/v1/auth/refresh", None, Some(refresh), ip)?;
        let refreshed = self.send("refresh", refresh, ok).await?;
        let access = field(&refreshed, "access_token")?;
        let as_user = |method, path: &str, body| call(method, path, Some(&access), body, ip);
        self.send("me", as_user(Method::GET, "/v1/auth/me", None)?, ok)
            .await?;
        if round % 2 == 1 {
            let release = json!({ "idempotency_key": key });
            let release = as_user(Method::POST, "/v1/quota/release", Some(release))?;
            self.send("quota release", release, ok).await?;
        }
        let logout = as_user(Method::POST, "/v1/auth/logout", None)?;
        self.send("logout", logout, StatusCode::NO_CONTENT).await?;
        Ok(())
    }
}

/// Resident memory at one moment, in KiB.
struct Sample {
    /// Since the soak started.
    at: Duration,
    /// This process: resident now (`VmRSS`) and its high-water mark (`VmHWM`).
    rss: Option<u64>,
    peak: Option<u64>,
    /// DynamoDB Local's resident memory, when the bench started it.
    dynamodb: Option<u64>,
}

impl Sample {
    fn take(started: Instant, dynamodb_pid: Option<u32>) -> Sample {
        Sample {
            at: started.elapsed(),
            rss: memory_kib("self", "VmRSS"),
            peak: memory_kib("self", "VmHWM"),
            dynamodb: dynamodb_pid.and_then(|pid| memory_kib(&pid.to_string(), "VmRSS")),
        }
    }
}

/// Samples memory at the start and every [`SAMPLE_EVERY`] until `deadline`.
async fn watch_memory(
    started: Instant,
    deadline: Instant,
    dynamodb_pid: Option<u32>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut next = started;
    while next < deadline {
        tokio::time::sleep_until(next.into()).await;
        samples.push(Sample::take(started, dynamodb_pid));
        next += SAMPLE_EVERY;
    }
    samples
}

/// Everything the soak measured.
pub struct Report {
    plan: Plan,
    elapsed: Duration,
    /// From the end of the warm-up to the last answer.
    measured: Duration,
    users: u32,
    tally: Tally,
    dynamodb_requests: u64,
    /// In time order; the last one taken after every client stopped.
    memory: Vec<Sample>,
    dynamodb_pid: Option<u32>,
}

impl Report {
    /// Appends the soak's Markdown section to `out`.
    pub fn render(&self, out: &mut String) {
        let plan = self.plan;
        let measured_requests: usize = self.tally.latencies.values().map(Vec::len).sum();
        let errors: u64 = self.tally.errors.values().sum();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "\n## Soak\n");
        let _ = writeln!(
            out,
            "- Load: {} concurrent virtual clients for {:.0} s (`BENCH_SOAK_CLIENTS`, \
             `BENCH_SOAK_SECS`), the first {:.0} s a warm-up (`BENCH_SOAK_WARMUP_SECS`) whose \
             latencies are not kept. Each client takes one new user after another: register \
             from its own address, then {ROUNDS} rounds (the first on the registration's \
             session, the others after a login) of me, sessions list, quota read and consume, \
             ticket create (first round) or list, ticket read and respond, refresh, me, quota \
             release (every other round), logout. The service's limits are the defaults; the \
             traffic stays under them as real users would (one registration and {} logins per \
             address and user, never two logins of one user at once).",
            plan.clients,
            plan.duration.as_secs_f64(),
            plan.warm_up.as_secs_f64(),
            ROUNDS - 1,
        );
        let _ = writeln!(
            out,
            "- Result: {} requests answered in {:.1} s ({} users); {} measured after the warm-up, \
             {:.0} req/s; DynamoDB requests {} ({:.0}/s); **errors: {errors}**",
            self.tally.answered,
            self.elapsed.as_secs_f64(),
            self.users,
            measured_requests,
            measured_requests as f64 / self.measured.as_secs_f64(),
            self.dynamodb_requests,
            self.dynamodb_requests as f64 / self.elapsed.as_secs_f64(),
        );
        if !self.tally.errors.is_empty() {
            let _ = writeln!(out, "\n| Operation | Status | Error code | Count |");
            let _ = writeln!(out, "|---|---:|---|---:|");
            for ((operation, status, code), count) in &self.tally.errors {
                let _ = writeln!(out, "| {operation} | {status} | `{code}` | {count} |");
            }
        }
        let _ = writeln!(
            out,
            "\n| Operation | Requests (after warm-up) | p50 ms | p99 ms | max ms | req/s |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for operation in OPERATIONS {
            let Some(latencies) = self.tally.latencies.get(operation) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {operation} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
                latencies.len(),
                millis(percentile(latencies, 50)),
                millis(percentile(latencies, 99)),
                millis(percentile(latencies, 100)),
                latencies.len() as f64 / self.measured.as_secs_f64(),
            );
        }
        self.render_memory(out);
    }

    fn render_memory(&self, out: &mut String) {
        let mib =
            |kib: Option<u64>| kib.map_or("-".into(), |kib| format!("{:.1}", kib as f64 / 1024.0));
        let after_warm_up = self
            .memory
            .iter()
            .find(|sample| sample.at >= self.plan.warm_up);
        let (Some(start), Some(warm), Some(end)) =
            (self.memory.first(), after_warm_up, self.memory.last())
        else {
            return;
        };
        let _ = writeln!(out, "\n### Resident memory during the soak\n");
        let _ = writeln!(
            out,
            "VmRSS and VmHWM of the bench process (the routers, the SDK client and the load \
             generator, whose latency log grows by 16 bytes per request){}. Sampled every {} s; \
             the last row is after every client stopped.\n",
            if self.dynamodb_pid.is_some() {
                ", and DynamoDB Local's VmRSS (its in-memory table grows with every user)"
            } else {
                ""
            },
            SAMPLE_EVERY.as_secs(),
        );
        let _ = writeln!(
            out,
            "| s | VmRSS MiB | VmHWM MiB | DynamoDB Local VmRSS MiB |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|");
        for sample in &self.memory {
            let _ = writeln!(
                out,
                "| {:.0} | {} | {} | {} |",
                sample.at.as_secs_f64(),
                mib(sample.rss),
                mib(sample.peak),
                mib(sample.dynamodb),
            );
        }
        let growth = match (warm.rss, end.rss) {
            (Some(warm), Some(end)) => format!(
                "{:+.1} MiB ({:+.1} %)",
                (end as f64 - warm as f64) / 1024.0,
                (end as f64 / warm as f64 - 1.0) * 100.0
            ),
            _ => "not available".into(),
        };
        let _ = writeln!(
            out,
            "\n- VmRSS at the start {} MiB, after the warm-up ({:.0} s) {} MiB, at the end {} MiB: \
             growth after the warm-up {growth}",
            mib(start.rss),
            warm.at.as_secs_f64(),
            mib(warm.rss),
            mib(end.rss),
        );
    }
}
