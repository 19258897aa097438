//! Sesame's common crate: the domain, the services every route group calls, the DynamoDB
//! store, tokens, passwords and the HTTP glue. Function crates are thin: they parse a request,
//! call one service function here and return its result.

pub mod audit;
pub mod auth;
/// The S3 attachment bucket: only with the `blobs` feature, which of the Lambdas only tickets
/// enables.
#[cfg(feature = "blobs")]
pub mod blobs;
pub mod bootstrap;
pub mod cleanup;
pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod cursor;
pub mod domain;
/// The e-mail flows (verification, password reset, e-mail change): only with the `mail`
/// feature, which of the Lambdas only auth and web enable.
#[cfg(feature = "mail")]
pub mod email;
pub mod error;
pub mod http;
/// Mail through Amazon SES: only with the `mail` feature.
#[cfg(feature = "mail")]
pub mod mail;
pub mod mfa;
pub mod passkeys;
pub mod password;
pub mod qr_auth;
pub mod quota;
pub mod rate_limit;
pub mod rbac;
pub mod secrets;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod views;

pub use context::{Context, SigningContext};
pub use error::{Error, Result};

/// A boxed error for start-up failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
