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

    /// A client for a local endpoint (LocalStack) with static test credentials, as
    /// `Store::local` builds one; for local set-up only.
    pub fn local(endpoint: &str, region: &str) -> Secrets {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_secretsmanager::Config::builder()
            .http_client(crate::config::http_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "sesame-local"))
            .build();
        Secrets {
            client: Client::from_conf(config),
        }
    }

    /// Stores `value` under `name`: creates the secret, or gives an existing one this value as
    /// its current version. Only local set-up writes secrets (`local-server --lambda-secrets`);
    /// a deployment's secrets are created outside Sesame.
    pub async fn put(&self, name: &str, value: &str) -> Result<()> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await;
        let Err(error) = created else {
            return Ok(());
        };
        if !error
            .as_service_error()
            .is_some_and(|e| e.is_resource_exists_exception())
        {
            return Err(crate::store::aws_error(
                "SecretsManager",
                "CreateSecret",
                error,
            ));
        }
        self.client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| crate::store::aws_error("SecretsManager", "PutSecretValue", e))?;
        Ok(())
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
