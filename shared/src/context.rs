//! Everything a request needs, built once per cold start and shared by every request.
//!
//! There are two contexts. [`Context`] verifies access tokens with the public key only: it is
//! what the sessions, quota, tickets and cleanup functions run with. [`SigningContext`] adds
//! the private signing key; only the functions that issue tokens (auth, qr-auth) build one.
//! Issuing a token needs a `&SigningContext`, so code holding a `Context` cannot sign:
//!
//! ```compile_fail
//! fn sign(ctx: &shared::Context) {
//!     let _ = &ctx.signer;
//! }
//! ```
//!
//! The attachment bucket is S3, which only the tickets function needs; it is linked with the
//! `blobs` feature only (see [`Blobs`]), so the other functions ship without an S3 client.
//! Likewise mail (SES) is linked with the `mail` feature only (see [`Mailer`]): the auth and
//! web functions send mail, the others do not.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::cursor::{CursorKey, MIN_KEY_BYTES};
use crate::error::Error;
use crate::mfa::{MIN_MFA_KEY_BYTES, MfaKey};
use crate::password::PasswordHasher;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tokens::{Signer, Verifier};

/// The attachment bucket of a context: the S3 client of `shared::blobs` with the `blobs`
/// feature (the tickets function, the local server, tests and bench enable it). Without it a
/// context has no bucket, this is `()`, and nothing can reach S3.
#[cfg(feature = "blobs")]
pub use crate::blobs::Blobs;
#[cfg(not(feature = "blobs"))]
pub type Blobs = ();

/// The mail sender of a context: the SES client of `shared::mail` with the `mail` feature (the
/// auth and web functions, the local server, tests and bench enable it). Without it this is
/// `()`, and nothing can reach SES.
#[cfg(feature = "mail")]
pub use crate::mail::Mailer;
#[cfg(not(feature = "mail"))]
pub type Mailer = ();

/// Configuration, store, attachment bucket, mailer, token verifier, clock and password hasher;
/// cheap to clone. Holds no private key.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: Blobs,
    pub mailer: Mailer,
    pub verifier: Arc<Verifier>,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("blobs", &self.blobs)
            .field("mailer", &self.mailer)
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// A [`Context`] plus the private signing key: what issuing tokens needs. Dereferences to its
/// `Context`, so every service that only verifies takes it as well.
#[derive(Clone)]
pub struct SigningContext {
    context: Context,
    pub signer: Arc<Signer>,
}

impl std::fmt::Debug for SigningContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningContext")
            .field("context", &self.context)
            .field("signer", &self.signer)
            .finish()
    }
}

impl Context {
    /// Assembles a context from its parts (tests pass their own store, bucket, keys and clock).
    pub fn new(
        config: Config,
        store: Store,
        blobs: Blobs,
        verifier: Verifier,
        clock: Arc<dyn Clock>,
    ) -> Context {
        Context::assemble(config, store, blobs, Arc::new(verifier), clock)
    }

    fn assemble(
        config: Config,
        store: Store,
        blobs: Blobs,
        verifier: Arc<Verifier>,
        clock: Arc<dyn Clock>,
    ) -> Context {
        let hasher = PasswordHasher::new(config.hash_concurrency);
        // A context from parts sends no mail until given a mailer (`with_mailer`).
        #[allow(clippy::let_unit_value)]
        let mailer = disabled_mailer(&config);
        Context {
            config: Arc::new(config),
            store,
            blobs,
            mailer,
            verifier,
            clock,
            hasher,
        }
    }

    /// The verify-only context of a function that does not issue tokens, from the environment
    /// (see [`Context::from_config`]). Called once per cold start.
    pub async fn from_env() -> Result<Context, crate::BoxError> {
        Context::from_config(Config::from_env()?).await
    }

    /// Builds the DynamoDB, S3, SES and Secrets Manager clients from one AWS configuration, resolves
    /// the configured secrets and loads the public key from `SESAME_VERIFY_KEY_SECRET`. Never
    /// reads the signing key. Fails when a secret cannot be read or has the wrong form, and when
    /// no verification key is configured outside local mode.
    pub async fn from_config(config: Config) -> Result<Context, crate::BoxError> {
        let (config, sdk_config, secrets) = connect(config).await?;
        let verifier = match (&config.verify_key_secret, config.local_dev) {
            (Some(id), _) => {
                let public_pem = secrets.read(id).await?;
                Arc::new(Verifier::from_public_pem(public_pem.expose_secret())?)
            }
            (None, true) => local_signer(&config)?.verifier_arc(),
            (None, false) => {
                return Err(missing(
                    "SESAME_VERIFY_KEY_SECRET",
                    "the secret holding the public key",
                ));
            }
        };
        Context::assembled(config, &sdk_config, verifier)
    }

    fn assembled(
        config: Config,
        sdk_config: &aws_config::SdkConfig,
        verifier: Arc<Verifier>,
    ) -> Result<Context, crate::BoxError> {
        let store = Store::connect(sdk_config, &config.table_name);
        // `Blobs` is `()` in a function built without S3 (see `connect_blobs`), `Mailer` in
        // one built without SES.
        #[allow(clippy::let_unit_value)]
        let blobs = connect_blobs(sdk_config, &config);
        #[allow(clippy::let_unit_value)]
        let mailer = connect_mailer(sdk_config, &config)?;
        let mut context = Context::assemble(config, store, blobs, verifier, Arc::new(SystemClock));
        context.mailer = mailer;
        Ok(context)
    }

    /// This context with another mailer (the tests' mailer on LocalStack).
    pub fn with_mailer(mut self, mailer: Mailer) -> Context {
        self.mailer = mailer;
        self
    }

    /// The current time by this context's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl SigningContext {
    /// Assembles a signing context from its parts; its verifier is the signer's public key.
    pub fn new(
        config: Config,
        store: Store,
        blobs: Blobs,
        signer: Signer,
        clock: Arc<dyn Clock>,
    ) -> SigningContext {
        let signer = Arc::new(signer);
        let verifier = signer.verifier_arc();
        SigningContext {
            context: Context::assemble(config, store, blobs, verifier, clock),
            signer,
        }
    }

    /// The signing context of a function that issues tokens, from the environment (see
    /// [`SigningContext::from_config`]). Called once per cold start.
    pub async fn from_env() -> Result<SigningContext, crate::BoxError> {
        SigningContext::from_config(Config::from_env()?).await
    }

    /// Like [`Context::from_config`], but loads the private key from
    /// `SESAME_SIGNING_KEY_SECRET` (in local mode, without it, the development key at
    /// `SESAME_DEV_KEY_PATH`) and verifies with its public half. Fails when the key cannot be
    /// read or is not an Ed25519 PKCS#8 PEM, and when none is configured outside local mode.
    pub async fn from_config(config: Config) -> Result<SigningContext, crate::BoxError> {
        let (config, sdk_config, secrets) = connect(config).await?;
        let signer = match (&config.signing_key_secret, config.local_dev) {
            (Some(id), _) => Signer::from_pem(&secrets.read(id).await?)?,
            (None, true) => local_signer(&config)?,
            (None, false) => {
                return Err(missing(
                    "SESAME_SIGNING_KEY_SECRET",
                    "the secret holding the signing key",
                ));
            }
        };
        let signer = Arc::new(signer);
        Ok(SigningContext {
            context: Context::assembled(config, &sdk_config, signer.verifier_arc())?,
            signer,
        })
    }

    /// This context with its store replaced (a counted or fault-injected store in tests and
    /// benchmarks).
    pub fn with_store(mut self, store: Store) -> SigningContext {
        self.context.store = store;
        self
    }

    /// This context with another mailer (the tests' mailer on LocalStack).
    pub fn with_mailer(mut self, mailer: Mailer) -> SigningContext {
        self.context.mailer = mailer;
        self
    }

    /// The verify-only part of this context.
    pub fn context(&self) -> &Context {
        &self.context
    }
}

impl Deref for SigningContext {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

impl FromRef<SigningContext> for Context {
    fn from_ref(signing: &SigningContext) -> Context {
        signing.context.clone()
    }
}

impl From<SigningContext> for Context {
    /// Drops the signing key.
    fn from(signing: SigningContext) -> Context {
        signing.context
    }
}

/// The AWS configuration shared by every client, and the configuration with its secret values
/// (admin password, CloudFront origin secret, cursor key) read from Secrets Manager.
async fn connect(
    mut config: Config,
) -> Result<(Config, aws_config::SdkConfig, Secrets), crate::BoxError> {
    // Every client built from this configuration (DynamoDB, S3, Secrets Manager) gets the
    // configured timeouts and bounded retries, so a hung AWS endpoint costs a request at most
    // the operation timeout.
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(config.aws_region.clone()))
        .http_client(crate::config::http_client())
        .timeout_config(config.aws_calls.timeout_config())
        .retry_config(config.aws_calls.retry_config());
    if let Some(endpoint) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk_config = loader.load().await;
    let secrets = Secrets::connect(&sdk_config);
    if let Some(id) = &config.admin_password_secret {
        config.admin_password = Some(secrets.read(id).await?);
    }
    if let Some(id) = &config.origin_verify_secret {
        config.origin_verify = Some(secrets.read(id).await?);
    }
    match (&config.cursor_key_secret, config.local_dev) {
        (Some(id), _) => {
            config.cursor_key = CursorKey::new(secrets.read(id).await?.expose_secret().as_bytes())
                .ok_or_else(|| {
                    format!(
                        "SESAME_CURSOR_KEY_SECRET: the key must be at least {MIN_KEY_BYTES} bytes"
                    )
                })?;
        }
        // Local mode keeps `SESAME_CURSOR_KEY` or the key generated for this process.
        (None, true) => {}
        (None, false) => {
            return Err(missing(
                "SESAME_CURSOR_KEY_SECRET",
                "the secret holding the list-cursor key",
            ));
        }
    }
    match (&config.mfa_key_secret, config.local_dev) {
        (Some(id), _) => {
            let key = MfaKey::new(secrets.read(id).await?.expose_secret().as_bytes()).ok_or_else(
                || {
                    format!(
                        "SESAME_MFA_KEY_SECRET: the key must be at least {MIN_MFA_KEY_BYTES} bytes"
                    )
                },
            )?;
            config.mfa_key = Some(key);
        }
        // Local mode keeps `SESAME_MFA_KEY` or the key generated for this process.
        (None, true) => {}
        // Only the functions that sign people in are given the key; the others never see a
        // TOTP secret.
        (None, false) => config.mfa_key = None,
    }
    Ok((config, sdk_config, secrets))
}

/// The attachment bucket's S3 client, from the shared AWS configuration.
#[cfg(feature = "blobs")]
fn connect_blobs(sdk_config: &aws_config::SdkConfig, config: &Config) -> Blobs {
    // Local endpoints serve buckets by path only; AWS prefers virtual-hosted addressing.
    let path_style = config.aws_endpoint_url.is_some();
    Blobs::connect(sdk_config, &config.bucket_name, path_style)
}

/// Without the `blobs` feature there is no bucket to connect.
#[cfg(not(feature = "blobs"))]
fn connect_blobs(_: &aws_config::SdkConfig, _: &Config) -> Blobs {}

/// The SES mailer, from the shared AWS configuration and the configured sender and templates.
#[cfg(feature = "mail")]
fn connect_mailer(
    sdk_config: &aws_config::SdkConfig,
    config: &Config,
) -> Result<Mailer, crate::BoxError> {
    Mailer::connect(sdk_config, config)
}

/// Without the `mail` feature there is no mailer to connect.
#[cfg(not(feature = "mail"))]
fn connect_mailer(_: &aws_config::SdkConfig, _: &Config) -> Result<Mailer, crate::BoxError> {
    Ok(())
}

/// A mailer that sends nothing, until a context is given a real one.
#[cfg(feature = "mail")]
fn disabled_mailer(config: &Config) -> Mailer {
    Mailer::disabled(config)
}

#[cfg(not(feature = "mail"))]
fn disabled_mailer(_: &Config) -> Mailer {}

fn local_signer(config: &Config) -> Result<Signer, Error> {
    Signer::local_dev(std::path::Path::new(&config.dev_key_path))
}

fn missing(name: &str, what: &str) -> crate::BoxError {
    format!("{name} is required: set it to {what}, or SESAME_LOCAL_DEV=1 for a local run").into()
}
