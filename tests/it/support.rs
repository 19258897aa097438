//! Test fixtures: a [`TestEnv`] per test with its own freshly created table and bucket on the local AWS
//! endpoint (LocalStack by default, `AWS_ENDPOINT_URL` to change it), driving the same routers
//! the Lambdas serve, in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::SigningContext;
use shared::blobs::Blobs;
use shared::client::ORIGIN_VERIFY_HEADER;
use shared::clock::ManualClock;
use shared::config::{AwsCalls, Config};
use shared::mail::Mailer;
use shared::store::Store;
use shared::tokens::Signer;
use tower::ServiceExt;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";
/// An iPhone Safari User-Agent.
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
/// A Firefox on Windows User-Agent.
pub const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
/// A desktop Chrome User-Agent.
pub const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// The origin secret tests configure; requests "through CloudFront" carry it.
pub const ORIGIN_SECRET: &str = "test-origin-secret";

/// One test's world: its own table, clock, keys and router.
pub struct TestEnv {
    pub ctx: SigningContext,
    /// Stands still until the test advances it (see [`test_epoch`]).
    pub clock: Arc<ManualClock>,
    /// The signing key's PEM, for tests that forge tokens with it.
    pub signing_pem: String,
    /// The app's whole router, for tests that serve it on a port (`browser::served_env`).
    pub router: axum::Router,
}

/// A response with its JSON body decoded (`Value::Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A request under construction.
pub struct Call {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    ip: SocketAddr,
}

impl Call {
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sets a header, replacing any earlier value of it.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the default User-Agent (another device or browser).
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.headers.retain(|(name, _)| name != "user-agent");
        self.header("user-agent", user_agent)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(serde_json::to_vec(&body).unwrap());
        self.header("content-type", "application/json")
    }

    /// The client's IP as the server sees it.
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self
    }

    pub fn client_ip(mut self, ip: &str) -> Self {
        self.ip = SocketAddr::new(ip.parse().unwrap(), 40000);
        self
    }

    /// A raw body sent as JSON content.
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", "application/json")
    }
}

/// The tests' AWS timeouts: a LocalStack on a loaded 2-core machine may take seconds to answer,
/// and no test but the fault tests (which use `faults::FAST` through a proxy) is about timeouts.
pub const PATIENT: AwsCalls = AwsCalls {
    connect_timeout: Duration::from_secs(5),
    attempt_timeout: Duration::from_secs(30),
    operation_timeout: Duration::from_secs(60),
    max_attempts: 3,
    retry_base: Duration::from_millis(50),
};

/// Where a test's clock starts: the next whole hour of the wall clock. Every fixed window of
/// the rate limits (a second, a minute, an hour) starts there, so a test's requests share one
/// window however slowly they run, and cross into the next only when the test advances the
/// clock by the window. Being ahead of the wall clock (by at most an hour), it keeps what the
/// tests write (TTLs, token and URL lifetimes) in the real future, where LocalStack's own
/// expiry never touches it.
pub fn test_epoch() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    let hour = chrono::Duration::hours(1);
    chrono::Utc::now()
        .duration_trunc(hour)
        .expect("the wall clock is in range")
        + hour
}

pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

impl TestEnv {
    /// A fresh, uniquely named table and bucket with default configuration.
    pub async fn new() -> TestEnv {
        TestEnv::with_config(|_| {}).await
    }

    /// A fresh table with configuration adjusted by `adjust`.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> TestEnv {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let mut config = Config {
            table_name: format!("sesame-test-{}", uuid::Uuid::new_v4().simple()),
            bucket_name: format!("sesame-test-{}", uuid::Uuid::new_v4().simple()),
            aws_endpoint_url: Some(endpoint()),
            hash_concurrency: 2,
            local_dev: true,
            origin_verify: Some(ORIGIN_SECRET.into()),
            aws_calls: PATIENT,
            ..Config::default()
        };
        adjust(&mut config);
        let store = Store::local_with(
            &endpoint(),
            &config.aws_region,
            &config.table_name,
            &config.aws_calls,
        );
        store
            .create_table()
            .await
            .expect("the local AWS endpoint is up (make localstack)");
        let blobs = Blobs::local(
            &endpoint(),
            &config.aws_region,
            &config.bucket_name,
            &config.aws_calls,
        );
        blobs.create_bucket().await.expect("the local S3 is up");
        let (signer, signing_pem) = Signer::generate().unwrap();
        let signing_pem = signing_pem.expose_secret().to_owned();
        let mailer = Mailer::local(&endpoint(), &config, &config.aws_calls);
        mailer.verify_sender().await.expect("the local SES is up");
        let clock = Arc::new(ManualClock::starting_at(test_epoch()));
        let ctx =
            SigningContext::new(config, store, blobs, signer, clock.clone()).with_mailer(mailer);
        let router = local_server::app(ctx.clone());
        TestEnv {
            ctx,
            clock,
            signing_pem,
            router,
        }
    }

    /// This environment with another store on the same table (one that goes through a fault
    /// proxy, say): same configuration, bucket, keys and clock, a new router.
    pub fn with_store(self, store: Store) -> TestEnv {
        let signer = Signer::from_pem(&self.signing_pem.clone().into()).unwrap();
        let config = (*self.ctx.config).clone();
        let blobs = self.ctx.blobs.clone();
        let ctx = SigningContext::new(config, store, blobs, signer, self.clock.clone())
            .with_mailer(self.ctx.mailer.clone());
        let router = local_server::app(ctx.clone());
        TestEnv {
            ctx,
            router,
            ..self
        }
    }

    /// A request; with `trust_geo_headers` on, it comes through CloudFront (it carries the
    /// origin secret), as every request of such a deployment does.
    pub fn call(&self, method: Method, path: &str) -> Call {
        let mut headers = vec![("user-agent".to_owned(), CHROME_MAC.to_owned())];
        if self.ctx.config.trust_geo_headers {
            headers.push((ORIGIN_VERIFY_HEADER.into(), ORIGIN_SECRET.into()));
        }
        Call {
            method,
            path: path.into(),
            headers,
            body: None,
            ip: "203.0.113.10:40000".parse().unwrap(),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.call(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> Call {
        self.call(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path)
    }

    /// Sends a call through the router, as the local server would.
    pub async fn send(&self, call: Call) -> Reply {
        let mut builder = Request::builder().method(call.method).uri(&call.path);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Body::from(call.body.unwrap_or_default()))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(call.ip));
        self.send_request(request).await
    }

    /// Sends a prepared request (e.g. one built from an API Gateway event).
    pub async fn send_request<B>(&self, request: Request<B>) -> Reply
    where
        B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let response = self
            .router
            .clone()
            .oneshot(request.map(Body::new))
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Registers `email` with [`PASSWORD`]; returns the token response.
    pub async fn register(&self, email: &str) -> Value {
        let reply = self
            .send(self.post("/v1/auth/register").json(json!({
                "email": email, "password": PASSWORD, "password2": PASSWORD,
                "first_name": "Ada", "last_name": "Lovelace"
            })))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body
    }

    /// Logs in; returns the whole reply.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.send(
            self.post("/v1/auth/login")
                .json(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Logs in with [`PASSWORD`] from a given User-Agent and IP, asserting success.
    pub async fn login_from(&self, email: &str, user_agent: &str, ip: &str) -> Value {
        let call = self
            .post("/v1/auth/login")
            .header("user-agent", user_agent)
            .client_ip(ip)
            .json(json!({"email": email, "password": PASSWORD}));
        let reply = self.send(call).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// Logs in with [`PASSWORD`], asserting success; returns the token response.
    pub async fn login_ok(&self, email: &str) -> Value {
        let reply = self.login(email, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// `GET /v1/auth/me` with a token; returns the status.
    pub async fn me_status(&self, access_token: &str) -> StatusCode {
        self.send(self.get("/v1/auth/me").bearer(access_token))
            .await
            .status
    }

    /// Registers a user and makes them a superuser directly in the store (as the bootstrap
    /// would); returns their token response. The tokens carry the new rights at once, since
    /// every request reads the user afresh.
    pub async fn superuser(&self) -> Value {
        let email = TestEnv::email("root");
        let tokens = self.register(&email).await;
        let id = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
        assert!(self.ctx.store.make_superuser(id).await.unwrap());
        tokens
    }

    /// Marks a user's address verified directly in the store (as following the mailed link
    /// would), for tests about something else that needs a verified account.
    pub async fn verify_email_of(&self, user_id: &str) {
        let id = user_id.parse().unwrap();
        assert!(
            self.ctx
                .store
                .mark_email_verified(id, self.ctx.now())
                .await
                .unwrap()
        );
    }

    /// A unique e-mail address for this test.
    pub fn email(name: &str) -> String {
        format!("{name}-{}@example.test", uuid::Uuid::new_v4().simple())
    }
}

/// The access token of a token response.
pub fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// The refresh token of a token response.
pub fn refresh(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

/// Asserts the contract's error shape with the given status and code, and that the request id
/// in the body is the one in the header.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.code(), code, "{:?}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let header = reply
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(!header.is_empty());
    assert_eq!(reply.body["error"]["request_id"], header);
}

/// A plain HTTP/1.1 request to a URL outside the router (presigned S3 URLs); returns the status
/// and the body bytes.
pub async fn fetch(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(http_body_util::Full::new(axum::body::Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}
