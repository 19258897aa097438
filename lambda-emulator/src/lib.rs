//! An emulator of the AWS Lambda Runtime API, so that the real `bootstrap` binaries of Sesame's
//! functions run and answer events on a developer machine and in the tests. Real Lambda cannot
//! be had here; this fake serves the four routes a custom runtime such as `lambda_runtime` uses
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//!
//! - `GET /2018-06-01/runtime/invocation/next` hands the runtime the next event (a long poll),
//!   with the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` answer it;
//! - `POST /2018-06-01/runtime/init/error` reports a failed initialisation.
//!
//! [`Function::start`] spawns a binary with the environment Lambda gives a function
//! (`AWS_LAMBDA_RUNTIME_API` pointing at this emulator, the function's name, memory size,
//! version and log group) plus the caller's variables, and nothing else. [`Function::invoke`]
//! sends it one event and waits for its answer, the process's exit or the timeout, whichever
//! comes first. A function measures its cold start (process start to first answer) and reads the
//! process's peak resident memory. The process is killed when the [`Function`] is dropped.
//!
//! It is not Lambda: no sandbox, no memory limit, no freezing between invocations, and one
//! invocation at a time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long an invocation, the first one's initialisation included, may take by default:
/// generous, because debug builds on a loaded machine start slowly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The memory size the emulator announces (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), as in
/// `template.yaml`'s globals. Nothing enforces it.
const MEMORY_SIZE_MB: u32 = 256;

/// What can go wrong starting or invoking a function. Every variant that follows a run of the
/// process carries the end of its output, which usually names the cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("the emulator cannot listen on a local port: {0}")]
    Listen(std::io::Error),
    #[error(
        "the function reported an initialisation error: {message}\n--- its output ---\n{output}"
    )]
    Init { message: String, output: String },
    #[error(
        "the function's process exited ({status}) without answering\n--- its output ---\n{output}"
    )]
    Exited { status: ExitStatus, output: String },
    #[error("the invocation failed with {error_type}: {message}")]
    Invocation { error_type: String, message: String },
    #[error("no answer within {timeout:?}\n--- the function's output ---\n{output}")]
    Timeout { timeout: Duration, output: String },
    #[error("the function answered with something that is not JSON: {0}")]
    NotJson(serde_json::Error),
}

/// One answered invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// The function's response document (for an HTTP API function, the API Gateway response
    /// with `statusCode`, `headers` and `body`).
    pub response: Value,
    /// From handing the event over to receiving the answer.
    pub elapsed: Duration,
}

/// A running function process and the Runtime API it polls.
pub struct Function {
    name: String,
    child: Child,
    pid: Option<u32>,
    started: Instant,
    cold_start: Option<Duration>,
    timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    runtime: Arc<Runtime>,
    server: JoinHandle<()>,
    output: Arc<Mutex<String>>,
    /// The tasks copying stdout and stderr into `output`; they end when the process does.
    collectors: Vec<JoinHandle<()>>,
}

impl Function {
    /// Serves a Runtime API on a free local port and spawns `binary` against it, with Lambda's
    /// variables and then `env` (which may override them, `AWS_LAMBDA_FUNCTION_NAME` say) as its
    /// only environment. The function is named after the binary's file name unless `env` names
    /// it. Fails only when the port or the process cannot be had; a function that fails to
    /// initialise shows on the first [`Function::invoke`].
    pub async fn start<I, K, V>(binary: impl AsRef<Path>, env: I) -> Result<Function, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let binary = binary.as_ref();
        let env: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let name = env
            .iter()
            .find(|(k, _)| k == "AWS_LAMBDA_FUNCTION_NAME")
            .map(|(_, v)| v.clone())
            .or_else(|| Some(binary.file_name()?.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "function".into());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::Listen)?;
        let address = listener.local_addr().map_err(Error::Listen)?;
        let (events, queue) = mpsc::unbounded_channel();
        let runtime = Arc::new(Runtime {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            queue: tokio::sync::Mutex::new(queue),
            waiting: Mutex::default(),
            first_poll: OnceLock::new(),
        });
        let server = tokio::spawn({
            let app = runtime_api(runtime.clone());
            async move {
                // Serving ends only with an I/O error of the listener; invocations then time out.
                let _ = axum::serve(listener, app).await;
            }
        });

        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                MEMORY_SIZE_MB.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "emulated/[$LATEST]0")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("_HANDLER", "bootstrap")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        let output = Arc::new(Mutex::new(String::new()));
        let mut collectors = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            collectors.push(tokio::spawn(collect(stdout, output.clone())));
        }
        if let Some(stderr) = child.stderr.take() {
            collectors.push(tokio::spawn(collect(stderr, output.clone())));
        }
        Ok(Function {
            name,
            pid: child.id(),
            child,
            started,
            cold_start: None,
            timeout: DEFAULT_TIMEOUT,
            events,
            runtime,
            server,
            output,
            collectors,
        })
    }

    /// The same function with another invocation timeout (see [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Function {
        self.timeout = timeout;
        self
    }

    /// Hands `event` to the function and waits for its answer. Fails with the function's own
    /// error ([`Error::Invocation`]), its initialisation error, the process's exit, a timeout,
    /// or an answer that is not JSON.
    pub async fn invoke(&mut self, event: Value) -> Result<Invocation, Error> {
        let (request_id, trace_id) = next_ids();
        let (answer, answered) = oneshot::channel();
        self.runtime
            .waiting
            .lock()
            .expect("no panics while holding the lock")
            .insert(request_id.clone(), answer);
        let sent = Instant::now();
        let deadline = SystemTime::now() + self.timeout;
        // The receiving end lives in `runtime` as long as `self` does.
        let _ = self.events.send(Event {
            request_id: request_id.clone(),
            deadline_ms: deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
            trace_id,
            payload: event.to_string(),
        });
        // Biased: an initialisation error is reported before the process exits, so it wins.
        let answer = tokio::select! {
            biased;
            answer = answered => answer.ok(),
            status = self.child.wait() => {
                let status = status.unwrap_or_else(|e| panic!("waiting for the process: {e}"));
                // The pipes may still hold its last words (the reason it exited).
                for collector in self.collectors.drain(..) {
                    let _ = tokio::time::timeout(Duration::from_secs(5), collector).await;
                }
                return Err(Error::Exited { status, output: self.output_tail() });
            }
            () = tokio::time::sleep(self.timeout) => None,
        };
        self.runtime
            .waiting
            .lock()
            .expect("no panics while holding the lock")
            .remove(&request_id);
        let Some(answer) = answer else {
            return Err(Error::Timeout {
                timeout: self.timeout,
                output: self.output_tail(),
            });
        };
        self.cold_start
            .get_or_insert_with(|| answer.at.duration_since(self.started));
        let elapsed = answer.at.duration_since(sent);
        match answer.kind {
            AnswerKind::Response(body) => Ok(Invocation {
                request_id,
                response: serde_json::from_slice(&body).map_err(Error::NotJson)?,
                elapsed,
            }),
            AnswerKind::Error(body) => {
                let (error_type, message) = error_fields(&body);
                Err(Error::Invocation {
                    error_type,
                    message,
                })
            }
            AnswerKind::InitError(body) => Err(Error::Init {
                message: String::from_utf8_lossy(&body).into_owned(),
                output: self.output_tail(),
            }),
        }
    }

    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// From spawning the process to the first answer it gave, once it has given one. It counts
    /// the wait for the first event too, so measure it by invoking right after [`Function::start`].
    pub fn cold_start(&self) -> Option<Duration> {
        self.cold_start
    }

    /// From spawning the process to its first poll for an event: how long its initialisation
    /// (configuration, clients, secrets) took. `None` until it polls.
    pub fn init_duration(&self) -> Option<Duration> {
        self.runtime
            .first_poll
            .get()
            .map(|at| at.duration_since(self.started))
    }

    /// The process's peak resident set size so far in bytes (`VmHWM` in `/proc/<pid>/status`),
    /// while it runs on Linux; `None` elsewhere or after it exited.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kilobytes * 1024)
    }

    /// Everything the process wrote to stdout and stderr so far, line by line.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .expect("no panics while holding the lock")
            .clone()
    }

    /// The last lines of the output, for error messages.
    fn output_tail(&self) -> String {
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        // `kill_on_drop` kills the process as well; this makes it immediate and explicit.
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

/// An event waiting for the runtime's next poll.
struct Event {
    request_id: String,
    deadline_ms: u128,
    trace_id: String,
    payload: String,
}

struct Answer {
    at: Instant,
    kind: AnswerKind,
}

enum AnswerKind {
    Response(Bytes),
    Error(Bytes),
    InitError(Bytes),
}

/// The Runtime API's state, shared by its handlers and the [`Function`].
struct Runtime {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    /// The invocations handed out or queued and not yet answered, by request id.
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    first_poll: OnceLock<Instant>,
}

impl Runtime {
    /// Delivers an answer; `false` when no invocation waits under `request_id`.
    fn answer(&self, request_id: &str, kind: AnswerKind) -> bool {
        let at = Instant::now();
        let waiting = self
            .waiting
            .lock()
            .expect("no panics while holding the lock")
            .remove(request_id);
        waiting.is_some_and(|answer| answer.send(Answer { at, kind }).is_ok())
    }
}

fn runtime_api(runtime: Arc<Runtime>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(runtime)
}

async fn next_invocation(State(runtime): State<Arc<Runtime>>) -> Response {
    runtime.first_poll.get_or_init(Instant::now);
    let Some(event) = runtime.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    (
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", event.request_id),
            ("lambda-runtime-deadline-ms", event.deadline_ms.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                runtime.function_arn.clone(),
            ),
            ("lambda-runtime-trace-id", event.trace_id),
        ],
        event.payload,
    )
        .into_response()
}

async fn invocation_response(
    State(runtime): State<Arc<Runtime>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    accepted(runtime.answer(&id, AnswerKind::Response(body)))
}

async fn invocation_error(
    State(runtime): State<Arc<Runtime>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    accepted(runtime.answer(&id, AnswerKind::Error(body)))
}

/// An initialisation error fails every invocation waiting, as Lambda fails the one that caused
/// the cold start.
async fn init_error(State(runtime): State<Arc<Runtime>>, body: Bytes) -> StatusCode {
    let ids: Vec<String> = runtime
        .waiting
        .lock()
        .expect("no panics while holding the lock")
        .keys()
        .cloned()
        .collect();
    for id in ids {
        runtime.answer(&id, AnswerKind::InitError(body.clone()));
    }
    StatusCode::ACCEPTED
}

/// 202 as Lambda answers an accepted result; 400 for a request id that is not waiting.
fn accepted(delivered: bool) -> StatusCode {
    if delivered {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// `errorType` and `errorMessage` of an error document, or its raw text.
fn error_fields(body: &[u8]) -> (String, String) {
    let field = |doc: &Value, name: &str| doc[name].as_str().map(str::to_owned);
    match serde_json::from_slice::<Value>(body) {
        Ok(doc) => (
            field(&doc, "errorType").unwrap_or_else(|| "Unknown".into()),
            field(&doc, "errorMessage").unwrap_or_else(|| doc.to_string()),
        ),
        Err(_) => ("Unknown".into(), String::from_utf8_lossy(body).into_owned()),
    }
}

/// A UUID-shaped request id and an X-Ray-shaped trace id, unique within this process.
fn next_ids() -> (String, String) {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
    let pid = std::process::id();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (
        format!("{pid:08x}-0000-4000-8000-{n:012x}"),
        format!("Root=1-{secs:08x}-{pid:012x}{n:012x};Sampled=0"),
    )
}

async fn collect(stream: impl AsyncRead + Unpin, output: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut output = output.lock().expect("no panics while holding the lock");
        output.push_str(&line);
        output.push('\n');
    }
}
