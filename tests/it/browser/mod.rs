//! Real-browser tests of the web app: headless Chromium driven over WebDriver (fantoccini and
//! Debian's `chromedriver`, installed by `make browser`), against the app served in-process on
//! a loopback port ([`served_env`]).
//!
//! One chromedriver serves the whole test binary ([`driver`]); each [`Browser`] is its own
//! Chromium with a fresh profile, so its cookies are its own. Waits poll the page for a
//! condition ([`wait_for`]); the server's time is the test's `ManualClock`, which a wait can
//! advance as it polls ([`wait_with_clock`]). Every page a scenario visits is saved as a PNG
//! under `.local/screenshots/` ([`screenshot`]).
//!
//! A scenario opens its browsers, runs its steps inside [`closing`] (which closes them all,
//! even when a step fails) and checks the server's side through its `TestEnv`.

mod admin;
mod csrf;
mod keyboard;
mod passkeys;
mod qr;
mod refresh;
mod sessions;
mod tickets;

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use shared::clock::ManualClock;

use crate::support::{SAFARI_IPHONE, TestEnv};

/// Debian's Chromium and its WebDriver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait polls before the test fails: generous, for a busy 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The flags of every browser: headless, nothing talking to the network behind the test's back.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// The test binary's chromedriver, started on first use on a free port.
struct Driver {
    url: String,
    /// The shell that runs chromedriver and ends it when this process exits (the end of its
    /// standard input, which only this process holds); kept so that pipe stays open. Neither
    /// holds this process's output open (a `cargo test | tee` would wait for them).
    _watch: Child,
}

/// The URL of the test binary's chromedriver, started on first use. It lives as long as the
/// test binary: when the binary exits, its end of the watching shell's standard input closes
/// and the shell kills chromedriver (statics are never dropped, so no guard could).
fn driver() -> &'static str {
    static DRIVER: OnceLock<Driver> = OnceLock::new();
    &DRIVER
        .get_or_init(|| {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free loopback port")
                .port();
            let watch = Command::new("sh")
                .arg("-c")
                .arg(r#""$0" --port="$1" >/dev/null 2>&1 & driver=$!; cat >/dev/null; kill "$driver""#)
                .arg(CHROMEDRIVER)
                .arg(port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver is installed (make browser)");
            let started = Instant::now();
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    started.elapsed() < PATIENCE,
                    "chromedriver did not listen on port {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Driver {
                url: format!("http://127.0.0.1:{port}"),
                _watch: watch,
            }
        })
        .url
}

/// One browser: its own Chromium, with a fresh profile (so its own cookies). Derefs to the
/// WebDriver client; [`Browser::close`] it (or run the scenario in [`closing`]).
pub struct Browser {
    client: Client,
    profile: PathBuf,
}

impl std::ops::Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Browser {
    /// A desktop Chromium, 1280×900.
    pub async fn desktop() -> Browser {
        Browser::open(&["--window-size=1280,900"], json!({})).await
    }

    /// A phone: a 375×812 viewport (emulated, since a headless window is at least 500 wide)
    /// with an iPhone Safari User-Agent.
    pub async fn phone() -> Browser {
        let agent = format!("--user-agent={SAFARI_IPHONE}");
        let emulation = json!({
            "deviceMetrics": { "width": 375, "height": 812, "pixelRatio": 2.0, "touch": true },
            "userAgent": SAFARI_IPHONE,
        });
        Browser::open(&["--window-size=375,812", &agent], emulation).await
    }

    /// A Chromium with the common [`FLAGS`], `extra` ones and `mobile_emulation` (`{}` for
    /// none).
    async fn open(extra: &[&str], mobile_emulation: serde_json::Value) -> Browser {
        let profile =
            std::env::temp_dir().join(format!("sesame-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.extend(extra.iter().map(|flag| (*flag).to_owned()));
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if mobile_emulation != json!({}) {
            options["mobileEmulation"] = mobile_emulation;
        }
        let capabilities = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let client = builder
            .capabilities(capabilities)
            .connect(driver())
            .await
            .expect("chromedriver starts a Chromium");
        Browser { client, profile }
    }

    /// Ends the browser and, once its Chromium has let go of it (the profile's `SingletonLock`
    /// is gone), removes its profile.
    pub async fn close(&self) {
        // A browser that already crashed has nothing left to end.
        let _ = self.client.clone().close().await;
        let lock = self.profile.join("SingletonLock");
        let started = Instant::now();
        while lock.symlink_metadata().is_ok() && started.elapsed() < PATIENCE {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Runs `scenario`, then closes every browser in `browsers`, also when the scenario panicked
/// (whose panic then goes on).
pub async fn closing(browsers: &[&Browser], scenario: impl Future<Output = ()>) {
    let outcome = std::panic::AssertUnwindSafe(scenario).catch_unwind().await;
    for browser in browsers {
        browser.close().await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A fresh [`TestEnv`] whose app is served on a loopback port, and that port's base URL
/// (`http://127.0.0.1:<port>`, also the app's configured public URL). The server runs until
/// the test's runtime ends.
pub async fn served_env() -> (TestEnv, String) {
    served_env_as("127.0.0.1").await
}

/// [`served_env`], with the base URL (and public URL) `http://localhost:<port>`: WebAuthn
/// refuses IP addresses as relying-party ids, and the local mode's relying party is
/// `localhost`. The server still listens on the IPv4 loopback address only.
pub async fn served_env_on_localhost() -> (TestEnv, String) {
    served_env_as("localhost").await
}

async fn served_env_as(host: &str) -> (TestEnv, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    let env = TestEnv::with_config(|config| config.public_url = Some(base.clone())).await;
    serve(listener, env.router.clone());
    (env, base)
}

/// Serves `router` on `listener` (with the peer's address, as the local server does) until the
/// test's runtime ends.
pub fn serve(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
}

/// Saves a PNG of what `client` shows as `.local/screenshots/<name>.png`.
pub async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::File::create(dir.join(format!("{name}.png")))
        .and_then(|mut file| file.write_all(&png))
        .unwrap();
}

/// Scrolls the first element matching `css` to the top of the window (for a screenshot of
/// that part of a long page).
pub async fn scroll_to(client: &Client, css: &str) {
    let element = wait_for(client, css, None).await;
    let element = serde_json::to_value(&element).unwrap();
    client
        .execute("arguments[0].scrollIntoView();", vec![element])
        .await
        .unwrap();
}

/// The first element matching `css` (whose text contains `text`, if given), once the page
/// has one; fails the test after [`PATIENCE`], telling where the browser is and what it shows.
pub async fn wait_for(client: &Client, css: &str, text: Option<&str>) -> Element {
    poll(client, css, text, Duration::from_millis(100), || {}).await
}

/// [`wait_for`], advancing the server's clock by a second for every second it waits: for
/// pages that poll a rate-limited route (one QR status poll per code and clock second).
pub async fn wait_with_clock(
    client: &Client,
    clock: &ManualClock,
    css: &str,
    text: Option<&str>,
) -> Element {
    poll(client, css, text, Duration::from_secs(1), || {
        clock.advance(chrono::Duration::seconds(1));
    })
    .await
}

async fn poll(
    client: &Client,
    css: &str,
    text: Option<&str>,
    every: Duration,
    mut tick: impl FnMut(),
) -> Element {
    let started = Instant::now();
    loop {
        if let Some(found) = find(client, css, text).await {
            return found;
        }
        if started.elapsed() > PATIENCE {
            let url = client.current_url().await.map(|u| u.to_string());
            let shown = page_text(client).await;
            panic!("no `{css}` with text {text:?} within {PATIENCE:?}; at {url:?}:\n{shown}");
        }
        tick();
        tokio::time::sleep(every).await;
    }
}

async fn find(client: &Client, css: &str, text: Option<&str>) -> Option<Element> {
    for element in client.find_all(Locator::Css(css)).await.ok()? {
        match text {
            None => return Some(element),
            // An element the page replaced meanwhile has no text: look again next time.
            Some(wanted) if element.text().await.is_ok_and(|t| t.contains(wanted)) => {
                return Some(element);
            }
            Some(_) => {}
        }
    }
    None
}

/// The text the page shows (its `body`), or "" when there is none.
pub async fn page_text(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Types `value` into the input named `name` of the form posting to `action`.
pub async fn fill(client: &Client, action: &str, name: &str, value: &str) {
    wait_for(
        client,
        &format!("form[action='{action}'] input[name='{name}']"),
        None,
    )
    .await
    .send_keys(value)
    .await
    .unwrap();
}

/// Clicks the submit button of the (first) form posting to `action`.
pub async fn submit(client: &Client, action: &str) {
    wait_for(
        client,
        &format!("form[action='{action}'] button[type='submit']"),
        None,
    )
    .await
    .click()
    .await
    .unwrap();
}

/// Registers `email` through the registration form (as Ada Lovelace) and waits for the
/// account page it lands on.
pub async fn sign_up(client: &Client, base: &str, email: &str, password: &str) {
    client.goto(&format!("{base}/register")).await.unwrap();
    for (name, value) in [
        ("email", email),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("password", password),
        ("password2", password),
    ] {
        fill(client, "/register", name, value).await;
    }
    submit(client, "/register").await;
    wait_for(client, "h1", Some("Your account")).await;
}

/// Signs in with the password form and waits for the account page it lands on.
pub async fn sign_in(client: &Client, base: &str, email: &str, password: &str) {
    client.goto(&format!("{base}/sign-in")).await.unwrap();
    fill(client, "/sign-in", "email", email).await;
    fill(client, "/sign-in", "password", password).await;
    submit(client, "/sign-in").await;
    wait_for(client, "h1", Some("Your account")).await;
}

/// The names of the cookies `client` holds for the page it is on.
pub async fn cookie_names(client: &Client) -> Vec<String> {
    client
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|cookie| cookie.name().to_owned())
        .collect()
}

/// The ids of the sessions the store holds for the account of `email`.
pub async fn stored_sessions(env: &TestEnv, email: &str) -> Vec<String> {
    let email = shared::domain::Email::parse(email).unwrap();
    let user = env
        .ctx
        .store
        .find_user_id_by_email(&email)
        .await
        .unwrap()
        .expect("the account exists");
    let found = env.ctx.store.find_user_sessions(user).await.unwrap();
    found
        .map(|found| found.sessions.iter().map(|s| s.id.to_string()).collect())
        .unwrap_or_default()
}

/// The session rows of the account page: each row's session id and whether it is marked as
/// this browser's.
pub async fn session_rows(client: &Client) -> Vec<(String, bool)> {
    let mut rows = Vec::new();
    for row in client
        .find_all(Locator::Css("tr[data-session]"))
        .await
        .unwrap()
    {
        let id = row.attr("data-session").await.unwrap().unwrap_or_default();
        let marked = row.text().await.unwrap().contains("This browser");
        rows.push((id, marked));
    }
    rows
}
