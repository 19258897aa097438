//! A fault-injecting proxy between Sesame's store and the local AWS endpoint.
//!
//! It speaks just enough HTTP/1.1 to see one request at a time: it reads a request (head and
//! `Content-Length` body), decides whether a fault applies to it, and otherwise forwards it on a
//! fresh upstream connection and relays the answer with `Connection: close`, so every SDK
//! request arrives on its own connection and can be faulted alone. One method per fault; a
//! fault applies to every request until [`FaultProxy::heal`], or only to requests of one
//! DynamoDB operation ([`FaultProxy::on`], matched on `X-Amz-Target`), or only to the n-th of
//! those ([`FaultProxy::nth`]), so each step of a multi-step write can be failed on its own.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Accept the request and never answer.
    Stall,
    /// Forward the request after a pause.
    Delay(Duration),
    /// Forward the request (the store applies it), then cut the answer in the middle.
    Cut,
    /// Answer with a DynamoDB error of this code, as DynamoDB does when it throttles.
    Throttle(&'static str),
}

/// The fault in force and which requests it applies to.
#[derive(Debug)]
struct Rule {
    fault: Fault,
    /// Only requests of this DynamoDB operation (`TransactWriteItems`), when set.
    operation: Option<String>,
    /// Only the n-th matching request (1-based) after the rule was set, when set.
    nth: Option<usize>,
    matched: usize,
}

#[derive(Debug, Default)]
struct State {
    rule: Option<Rule>,
    /// Requests seen per operation, faulted or not.
    seen: HashMap<String, usize>,
}

impl State {
    /// The fault for a request of `operation`, counting it.
    fn decide(&mut self, operation: &str) -> Option<Fault> {
        *self.seen.entry(operation.to_owned()).or_default() += 1;
        let rule = self.rule.as_mut()?;
        if rule.operation.as_deref().is_some_and(|op| op != operation) {
            return None;
        }
        rule.matched += 1;
        match rule.nth {
            Some(n) if n != rule.matched => None,
            _ => Some(rule.fault),
        }
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    healed: watch::Sender<u64>,
    /// While `true`, nothing listens on the proxy's port: connections are refused.
    refusing: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy on a free local port in front of `upstream` (`http://host:port`), passing
    /// everything through until a fault is set.
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let (healed, _) = watch::channel(0);
        let (refusing, _) = watch::channel(false);
        let task = tokio::spawn(serve(
            listener,
            upstream,
            state.clone(),
            healed.clone(),
            refusing.subscribe(),
        ));
        FaultProxy {
            addr,
            state,
            healed,
            refusing,
            task,
        }
    }

    /// The URL to give the SDK client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accept requests and never answer (a hung store).
    pub fn stall(&self) -> &Self {
        self.set(Fault::Stall)
    }

    /// Stop listening, so new connections are refused (an unreachable store). Applies to every
    /// request: the proxy sees none.
    pub fn refuse(&self) -> &Self {
        self.refusing.send_replace(true);
        self
    }

    /// Answer after `pause` (a slow store).
    pub fn delay(&self, pause: Duration) -> &Self {
        self.set(Fault::Delay(pause))
    }

    /// Let the store apply the request, then cut its answer in the middle (a lost response).
    pub fn cut(&self) -> &Self {
        self.set(Fault::Cut)
    }

    /// Answer with DynamoDB's 400 `ThrottlingException`.
    pub fn throttle(&self) -> &Self {
        self.throttle_as("ThrottlingException")
    }

    /// Answer with another throttling error of DynamoDB: `ProvisionedThroughputExceededException`,
    /// `RequestLimitExceeded`, or `TransactionCanceledException` cancelled for throttling.
    pub fn throttle_as(&self, code: &'static str) -> &Self {
        self.set(Fault::Throttle(code))
    }

    /// Narrows the fault to requests of one DynamoDB operation (`TransactWriteItems`).
    pub fn on(&self, operation: &str) -> &Self {
        if let Some(rule) = self.state.lock().unwrap().rule.as_mut() {
            rule.operation = Some(operation.to_owned());
        }
        self
    }

    /// Narrows the fault to the `n`-th matching request from now (1-based); others pass.
    pub fn nth(&self, n: usize) -> &Self {
        if let Some(rule) = self.state.lock().unwrap().rule.as_mut() {
            rule.nth = Some(n);
        }
        self
    }

    /// Ends the fault: stalled requests are dropped, the port listens again, new requests pass.
    pub fn heal(&self) {
        self.state.lock().unwrap().rule = None;
        self.refusing.send_replace(false);
        self.healed.send_modify(|generation| *generation += 1);
    }

    /// How many requests of `operation` reached the proxy so far, faulted or not.
    pub fn seen(&self, operation: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, fault: Fault) -> &Self {
        self.state.lock().unwrap().rule = Some(Rule {
            fault,
            operation: None,
            nth: None,
            matched: 0,
        });
        self
    }
}

async fn serve(
    listener: TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    healed: watch::Sender<u64>,
    mut refusing: watch::Receiver<bool>,
) {
    let addr = listener.local_addr().unwrap();
    let mut listener = Some(listener);
    loop {
        let Some(open) = &listener else {
            // Refusing: the port is closed until the fault heals, then bound again.
            let _ = refusing.wait_for(|refusing| !refusing).await;
            listener = Some(TcpListener::bind(addr).await.unwrap());
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let (upstream, state, healed) = (upstream.clone(), state.clone(), healed.subscribe());
                tokio::spawn(async move {
                    // A failed relay only means the client or the store went away; the
                    // client sees that as the fault it is.
                    let _ = relay(client, &upstream, &state, healed).await;
                });
            }
            _ = refusing.wait_for(|refusing| *refusing) => listener = None,
        }
    }
}

/// Handles one request on one client connection.
async fn relay(
    mut client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    mut healed: watch::Receiver<u64>,
) -> io::Result<()> {
    let request = read_message(&mut client, false).await?;
    let operation = header(&request, "x-amz-target")
        .and_then(|target| target.rsplit('.').next().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned());
    let fault = state.lock().unwrap().decide(&operation);
    match fault {
        None => {
            client
                .write_all(&exchange(upstream, &request).await?)
                .await?
        }
        Some(Fault::Stall) => {
            let _ = healed.changed().await;
        }
        Some(Fault::Delay(pause)) => {
            tokio::time::sleep(pause).await;
            client
                .write_all(&exchange(upstream, &request).await?)
                .await?;
        }
        Some(Fault::Cut) => {
            let response = exchange(upstream, &request).await?;
            // Half the answer, then the connection closes under the client.
            client.write_all(&response[..response.len() / 2]).await?;
        }
        Some(Fault::Throttle(code)) => client.write_all(&throttled(code)).await?,
    }
    Ok(())
}

/// Sends a request to the store on a fresh connection and returns its whole answer, marked
/// `Connection: close`.
async fn exchange(upstream: &str, request: &[u8]) -> io::Result<Vec<u8>> {
    let mut store = TcpStream::connect(upstream).await?;
    store.write_all(&closing(request)).await?;
    Ok(closing(&read_message(&mut store, true).await?))
}

/// A message with its `Connection` header replaced by `Connection: close`.
fn closing(message: &[u8]) -> Vec<u8> {
    let end = head_end(message).unwrap_or(message.len());
    let head = String::from_utf8_lossy(&message[..end]);
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("connection: close");
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&message[end + 4..]);
    out
}

/// DynamoDB's answer when it throttles (awsJson 1.0 error shape).
fn throttled(code: &str) -> Vec<u8> {
    let reasons = if code == "TransactionCanceledException" {
        r#","CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity of your table or index."}]"#
    } else {
        ""
    };
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"Rate of requests exceeds the allowed throughput."{reasons}}}"#
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one HTTP/1.1 message: its head and a `Content-Length` body, or (for a response
/// without one) everything until the store closes the connection.
async fn read_message(
    stream: &mut (impl AsyncRead + Unpin),
    response: bool,
) -> io::Result<Vec<u8>> {
    let mut message = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = head_end(&message) {
            break end;
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        message.extend_from_slice(&chunk[..read]);
    };
    match header(&message, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(length) => {
            while message.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                message.extend_from_slice(&chunk[..read]);
            }
        }
        None if response => {
            stream.read_to_end(&mut message).await?;
        }
        None => {}
    }
    Ok(message)
}

/// Where the head of a message ends (the position of its blank line).
fn head_end(message: &[u8]) -> Option<usize> {
    message.windows(4).position(|w| w == b"\r\n\r\n")
}

/// A header's value from a message's head.
fn header(message: &[u8], name: &str) -> Option<String> {
    let head = String::from_utf8_lossy(&message[..head_end(message)?]);
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
