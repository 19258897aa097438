//! Secrets Manager: the only module that imports `aws_sdk_secretsmanager`.
//!
//! Secrets are read once, at cold start, by `Context::from_env`; a secret that cannot be read
//! stops the start-up with an error naming the secret (never its value).

use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;

use crate::error::{Error, Result};

/// A handle on Secrets Manager; cheap to clone.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    /// Builds the client from the shared AWS configuration (with its timeouts and retries).
    pub fn connect(sdk_config: &aws_config::SdkConfig) -> Secrets {
        Secrets {
            client: Client::new(sdk_config),
        }
    }

    /// The `SecretString` of the secret with this id or ARN (its current version). Fails when
    /// the secret is missing, unreadable with this function's role, or binary; 503 when Secrets
    /// Manager is throttling or unreachable within the configured timeouts.
    pub async fn read(&self, id: &str) -> Result<SecretString> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(
                |e| match crate::store::aws_error("SecretsManager", "GetSecretValue", e) {
                    Error::Unavailable => Error::Unavailable,
                    _ => Error::internal(format!("cannot read the secret {id}")),
                },
            )?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| Error::internal(format!("the secret {id} has no SecretString")))
    }
}
