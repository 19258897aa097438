//! The functions as Lambda runs them: every function's release binary (`<target>/release/<fn>`)
//! under the Runtime API emulator (`lambda-emulator`), configured as a deployment configures it
//! (keys and cursor key from Secrets Manager, no local mode), with DynamoDB sent to the bench's
//! DynamoDB Local and Secrets Manager and S3 to LocalStack. Beside them, the reference: a Python
//! 3.13 + boto3 handler (`bench/python/handler.py`, started by `bench/python/bootstrap` through
//! `awslambdaric`) doing `GET /v1/auth/me`'s authenticated read against the same table, key and
//! token.
//!
//! For each, [`COLD_STARTS`] fresh processes each answer one request (process start → first
//! answer: the cold start; process start → first poll: the initialisation), then the last one
//! answers [`WARM_INVOCATIONS`] more (warm invocation time) and its peak resident memory is read.
//! The auth function then answers [`LOGINS`] logins, for the login time against one bare Argon2id
//! verification and the memory they take.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lambda_emulator::Function;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::BoxError;
use shared::secrets::Secrets;
use shared::tokens::Signer;

use crate::{PASSWORD, USER_AGENT, millis, percentile};

/// Fresh processes per function, for the cold start.
const COLD_STARTS: usize = 5;
/// Invocations of one warm process per function.
const WARM_INVOCATIONS: usize = 200;
/// Sequential logins answered by one warm auth process.
const LOGINS: usize = 20;
/// LocalStack, for Secrets Manager and S3.
const LOCALSTACK: &str = "http://127.0.0.1:4566";
/// What tokens are issued by and for (both the functions and the Python handler check them).
const ISSUER: &str = "https://sesame.bench";
const AUDIENCE: &str = "sesame-bench";

/// A function or the reference, and the request it answers.
struct Subject {
    name: &'static str,
    /// What it answers, e.g. "GET /v1/auth/me".
    request: String,
    binary: PathBuf,
    event: Value,
    /// Environment beside the deployment's: the signing key's secret for a function that issues
    /// tokens, the interpreter and key id for the Python reference.
    env: Vec<(String, String)>,
    /// The expected HTTP status, or `None` for a non-HTTP function.
    status: Option<u64>,
}

/// What one subject measured.
pub struct Measured {
    name: &'static str,
    request: String,
    cold_starts: Vec<Duration>,
    inits: Vec<Duration>,
    warm: Vec<Duration>,
    /// Peak RSS (bytes) after the first answer and after the warm invocations.
    rss_after_first: Option<u64>,
    rss_after_warm: Option<u64>,
}

/// The auth function's logins.
pub struct Logins {
    latencies: Vec<Duration>,
    /// Peak RSS (bytes) before and after them.
    rss_before: Option<u64>,
    rss_after: Option<u64>,
}

/// Everything measured here.
pub struct Report {
    measured: Vec<Measured>,
    logins: Logins,
    bare_argon2_p50: Duration,
}

/// A deployment against DynamoDB Local (`dynamodb`) and LocalStack: the table, the secrets, the
/// environment of every function.
struct Deployment {
    env: Vec<(String, String)>,
    signing_key_secret: String,
}

impl Deployment {
    async fn new(dynamodb: &str, table: &str) -> Result<Deployment, BoxError> {
        let secrets = Secrets::local(LOCALSTACK, "us-east-1");
        let run = uuid::Uuid::new_v4().simple().to_string();
        let (signer, private_pem) = Signer::generate()?;
        let signing_key_secret = format!("sesame-bench-{run}-signing-key");
        let verify_key_secret = format!("sesame-bench-{run}-verify-key");
        let cursor_key_secret = format!("sesame-bench-{run}-cursor-key");
        secrets
            .put(&signing_key_secret, private_pem.expose_secret())
            .await?;
        secrets
            .put(&verify_key_secret, &signer.verifier().public_pem())
            .await?;
        secrets
            .put(&cursor_key_secret, &"bench-cursor-key-".repeat(3))
            .await?;
        let env = [
            // Per service (the SDK reads these itself): a general AWS_ENDPOINT_URL would be set
            // on the shared configuration and win over the DynamoDB one.
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", LOCALSTACK),
            ("AWS_ENDPOINT_URL_S3", LOCALSTACK),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("SESAME_TABLE", table),
            ("SESAME_BUCKET", &format!("sesame-bench-{run}")),
            ("SESAME_ISSUER", ISSUER),
            ("SESAME_AUDIENCE", AUDIENCE),
            ("SESAME_VERIFY_KEY_SECRET", &verify_key_secret),
            ("SESAME_CURSOR_KEY_SECRET", &cursor_key_secret),
            ("RUST_LOG", "warn"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        Ok(Deployment {
            env,
            signing_key_secret,
        })
    }

    /// What a function that issues tokens adds to the environment: its signing key.
    fn signing(&self) -> Vec<(String, String)> {
        vec![(
            "SESAME_SIGNING_KEY_SECRET".into(),
            self.signing_key_secret.clone(),
        )]
    }

    async fn start(&self, subject: &Subject) -> Result<Function, BoxError> {
        let env = self.env.iter().chain(&subject.env).cloned();
        Ok(Function::start(&subject.binary, env).await?)
    }
}

/// Measures every function and the Python reference. `release` is the folder of the release
/// binaries, `python` the reference venv's interpreter, `dynamodb` the DynamoDB Local endpoint
/// (whose table `table` exists), `bare_argon2_p50` one bare verification as the bench timed it.
pub async fn measure(
    workspace: &Path,
    release: &Path,
    python: &Path,
    dynamodb: &str,
    table: &str,
    bare_argon2_p50: Duration,
) -> Result<Report, BoxError> {
    let deployment = Deployment::new(dynamodb, table).await?;
    let events = workspace.join("events");
    let event = |path: &str| -> Result<Value, BoxError> {
        let full = events.join(path);
        let text =
            std::fs::read_to_string(&full).map_err(|e| format!("{}: {e}", full.display()))?;
        Ok(serde_json::from_str(&text)?)
    };

    // One user, signed in through the auth binary; every authenticated request carries its token.
    let auth_setup = Subject {
        name: "auth",
        request: String::new(),
        binary: release.join("auth"),
        event: Value::Null,
        env: deployment.signing(),
        status: None,
    };
    let mut auth = deployment.start(&auth_setup).await?;
    let register = event("auth/register.json")?;
    let email = registered(&mut auth, &register).await?;
    let tokens = http(
        &mut auth,
        with_body(
            event("auth/login.json")?,
            &json!({"email": email, "password": PASSWORD}),
        ),
        200,
    )
    .await?;
    // The measured logins are another user's: more than ten would end the sessions of the
    // token every other request carries (the session cap).
    let other = registered(&mut auth, &register).await?;
    let login = with_body(
        event("auth/login.json")?,
        &json!({"email": other, "password": PASSWORD}),
    );
    let token = tokens["access_token"]
        .as_str()
        .ok_or("the login answered no access token")?
        .to_owned();
    let jwks = http(&mut auth, event("auth/jwks.json")?, 200).await?;
    let kid = jwks["keys"][0]["kid"]
        .as_str()
        .ok_or("the JWKS has no kid")?
        .to_owned();
    drop(auth);

    let me = with_token(event("auth/me.json")?, &token);
    let function = |name: &'static str, request: &str, event: Value, status| Subject {
        name,
        request: request.into(),
        binary: release.join(name),
        event,
        env: if matches!(name, "auth" | "qr-auth") {
            deployment.signing()
        } else {
            Vec::new()
        },
        status,
    };
    let subjects = [
        function("auth", "GET /v1/auth/me", me.clone(), Some(200)),
        function(
            "sessions",
            "GET /v1/sessions",
            with_token(event("sessions/list.json")?, &token),
            Some(200),
        ),
        function(
            "quota",
            "GET /v1/quota",
            with_token(event("quota/show.json")?, &token),
            Some(200),
        ),
        function(
            "tickets",
            "GET /v1/tickets",
            tickets_list(with_token(event("tickets/create.json")?, &token)),
            Some(200),
        ),
        function(
            "qr-auth",
            "POST /v1/qr-auth/generate",
            event("qr-auth/generate.json")?,
            Some(201),
        ),
        function(
            "cleanup",
            "scheduled event",
            event("cleanup/scheduled.json")?,
            None,
        ),
        Subject {
            name: "python-reference",
            request: "GET /v1/auth/me (Python 3.13 + boto3)".into(),
            binary: workspace.join("bench/python/bootstrap"),
            event: me,
            env: vec![
                ("BENCH_PYTHON".into(), python.display().to_string()),
                ("SESAME_KID".into(), kid),
                // Lambda sets both; boto3 reads this one.
                ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ],
            status: Some(200),
        },
    ];

    let mut measured = Vec::new();
    let mut logins = None;
    for subject in &subjects {
        eprintln!("bench: {} under the Runtime API emulator", subject.name);
        let mut cold_starts = Vec::new();
        let mut inits = Vec::new();
        let mut process = None;
        for _ in 0..COLD_STARTS {
            let mut started = deployment.start(subject).await?;
            answer(&mut started, subject).await?;
            cold_starts.push(started.cold_start().ok_or("no cold start measured")?);
            inits.push(started.init_duration().ok_or("the runtime never polled")?);
            process = Some(started);
        }
        let mut process = process.ok_or("no process started")?;
        let rss_after_first = process.peak_rss();
        let mut warm = Vec::with_capacity(WARM_INVOCATIONS);
        for _ in 0..WARM_INVOCATIONS {
            warm.push(answer(&mut process, subject).await?);
        }
        let rss_after_warm = process.peak_rss();
        if subject.name == "auth" {
            let mut latencies = Vec::with_capacity(LOGINS);
            for _ in 0..LOGINS {
                let started = std::time::Instant::now();
                http(&mut process, login.clone(), 200).await?;
                latencies.push(started.elapsed());
            }
            logins = Some(Logins {
                latencies,
                rss_before: rss_after_warm,
                rss_after: process.peak_rss(),
            });
        }
        measured.push(Measured {
            name: subject.name,
            request: subject.request.clone(),
            cold_starts,
            inits,
            warm,
            rss_after_first,
            rss_after_warm,
        });
    }
    Ok(Report {
        measured,
        logins: logins.ok_or("the auth function was not measured")?,
        bare_argon2_p50,
    })
}

/// Registers a new user through the auth function's `register` event; returns its e-mail.
async fn registered(auth: &mut Function, register: &Value) -> Result<String, BoxError> {
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let registration = json!({
        "email": email, "password": PASSWORD, "password2": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"
    });
    http(auth, with_body(register.clone(), &registration), 201).await?;
    Ok(email)
}

/// Invokes `subject`'s process with its event and checks the answer; returns the invocation time.
async fn answer(process: &mut Function, subject: &Subject) -> Result<Duration, BoxError> {
    let mut event = subject.event.clone();
    if subject.name == "qr-auth" {
        // A QR code per browser address is rate-limited: each request comes from its own.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let ip = Ipv4Addr::from(0x0a00_0000 + NEXT.fetch_add(1, Ordering::Relaxed));
        event["requestContext"]["http"]["sourceIp"] = json!(ip.to_string());
    }
    let invocation = process.invoke(event).await?;
    if let Some(expected) = subject.status {
        let status = invocation.response["statusCode"].as_u64();
        if status != Some(expected) {
            return Err(format!(
                "{} answered {status:?} (expected {expected}): {}",
                subject.name, invocation.response
            )
            .into());
        }
    }
    Ok(invocation.elapsed)
}

/// Invokes an HTTP API function, checks the status and returns the decoded body.
async fn http(process: &mut Function, event: Value, expected: u64) -> Result<Value, BoxError> {
    let response = process.invoke(event).await?.response;
    if response["statusCode"].as_u64() != Some(expected) {
        return Err(format!("expected {expected}, got {response}").into());
    }
    let body = response["body"].as_str().unwrap_or("null");
    Ok(serde_json::from_str(body)?)
}

fn with_token(mut event: Value, token: &str) -> Value {
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event["headers"]["user-agent"] = json!(USER_AGENT);
    event
}

fn with_body(mut event: Value, body: &Value) -> Value {
    event["body"] = json!(body.to_string());
    event
}

/// The tickets event made into a list of the caller's tickets.
fn tickets_list(mut event: Value) -> Value {
    event["requestContext"]["http"]["method"] = json!("GET");
    event["rawQueryString"] = json!("");
    event.as_object_mut().map(|e| e.remove("body"));
    event
}

impl Report {
    /// The report's Markdown section.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mib = |bytes: Option<u64>| {
            bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1048576.0))
        };
        let median = |d: &[Duration]| millis(percentile(d, 50));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n## Lambda functions under the Runtime API\n\n\
             Each function's release binary (x86_64) under `lambda-emulator`, configured as \
             deployed (keys and cursor key read from Secrets Manager at start), DynamoDB to the \
             bench's DynamoDB Local, Secrets Manager and S3 to LocalStack; the Python 3.13 + boto3 \
             reference (`bench/python/handler.py` under `awslambdaric`) does `GET /v1/auth/me`'s \
             read (EdDSA token check, key from Secrets Manager at import, one consistent \
             BatchGetItem). Cold start: process start → first answer, median of {COLD_STARTS} \
             fresh processes (initialisation: → first poll for an event); warm: \
             {WARM_INVOCATIONS} invocations of the last process. The emulator does not freeze, \
             sandbox or cap memory as Lambda does.\n\n\
             | Function | Request | cold start ms | init ms | warm p50 ms | warm p99 ms | \
             peak RSS after first, MiB | after {WARM_INVOCATIONS} warm, MiB |\n\
             |---|---|---:|---:|---:|---:|---:|---:|"
        );
        for m in &self.measured {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {} | {} |",
                m.name,
                m.request,
                median(&m.cold_starts),
                median(&m.inits),
                median(&m.warm),
                millis(percentile(&m.warm, 99)),
                mib(m.rss_after_first),
                mib(m.rss_after_warm),
            );
        }
        let python = self.measured.iter().find(|m| m.name == "python-reference");
        let auth = self.measured.iter().find(|m| m.name == "auth");
        if let (Some(python), Some(auth)) = (python, auth) {
            let rust = percentile(&auth.cold_starts, 50).as_secs_f64();
            let py = percentile(&python.cold_starts, 50).as_secs_f64();
            let slowest = self
                .measured
                .iter()
                .filter(|m| m.name != "python-reference")
                .map(|m| percentile(&m.cold_starts, 50))
                .max()
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "\n- **Cold start**: auth {:.1} ms against the Python handler's {:.1} ms = {:.2}× \
                 (target ≤ 0.2×); the slowest function {:.1} ms = {:.2}×.",
                rust * 1e3,
                py * 1e3,
                rust / py,
                millis(slowest),
                slowest.as_secs_f64() / py,
            );
        }
        let login_p50 = percentile(&self.logins.latencies, 50);
        let _ = writeln!(
            out,
            "- **Login in the auth binary**: {LOGINS} sequential logins, p50 {:.2} ms = {:.2}× one \
             bare Argon2id verification ({:.2} ms, timed by the in-process bench above; target ≤ \
             1.2×). Peak RSS {} MiB before them, {} MiB after.",
            millis(login_p50),
            login_p50.as_secs_f64() / self.bare_argon2_p50.as_secs_f64(),
            millis(self.bare_argon2_p50),
            mib(self.logins.rss_before),
            mib(self.logins.rss_after),
        );
        out
    }
}
