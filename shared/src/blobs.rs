//! The attachment store on S3: the only module that imports `aws_sdk_s3`.
//!
//! Files never pass through a Lambda. The service asks for a presigned PUT whose signature fixes
//! the object key, content type and content length, and later for a presigned GET; clients talk
//! to S3 directly. SDK errors go through the store's one translation (`store::aws_error`):
//! throttling and outages become [`Error::Unavailable`], anything else [`Error::Internal`] with
//! the detail logged. Timeouts and retries come from the shared AWS configuration.

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration,
};
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::AwsCalls;
use crate::error::{Error, Result};

/// A handle on the attachment bucket; cheap to clone.
#[derive(Debug, Clone)]
pub struct Blobs {
    client: Client,
    bucket: String,
}

/// A presigned request: the URL and the headers the client must send with it.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

impl Blobs {
    /// Builds the S3 client from the shared AWS configuration. `path_style` addresses the bucket
    /// in the path (`endpoint/bucket/key`), which local endpoints such as LocalStack need.
    pub fn connect(sdk_config: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> Blobs {
        let config = aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(path_style)
            // A presigned PUT has no body to checksum; only send checksums S3 requires.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Blobs {
            client: Client::from_conf(config),
            bucket: bucket.to_owned(),
        }
    }

    /// A store on a local endpoint with static test credentials, path-style addressing and the
    /// default timeouts and retries.
    pub fn local(endpoint: &str, region: &str, bucket: &str, calls: &AwsCalls) -> Blobs {
        let config = aws_sdk_s3::Config::builder()
            .http_client(crate::config::http_client())
            .timeout_config(calls.timeout_config())
            .retry_config(calls.retry_config())
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "sesame-local",
            ))
            .build();
        Blobs {
            client: Client::from_conf(config),
            bucket: bucket.to_owned(),
        }
    }

    /// The bucket this store uses.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket with the CORS rule of [`Blobs::allow_browsers`]. Idempotent: a bucket
    /// this account already owns keeps its contents (and gets the rule again). Local endpoints
    /// only (the local server, the tests); in AWS the template creates the bucket.
    pub async fn create_bucket(&self) -> Result<()> {
        let region = self.client.config().region().map(Region::as_ref);
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        if let Some(region) = region.filter(|r| *r != "us-east-1") {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(sdk_error("CreateBucket", e)),
        }
        self.allow_browsers().await
    }

    /// Lets web pages of any origin `PUT` and `GET` objects with presigned URLs from script
    /// (the web app's uploads go straight from the browser to S3). Any origin, because a local
    /// web app has no fixed origin (the tests serve it on a free port) and CORS is no access
    /// control here: every request still needs a presigned signature, which only Sesame hands
    /// out, and S3 takes no cookies. The template's bucket names the deployed web origin instead.
    async fn allow_browsers(&self) -> Result<()> {
        let rule = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_headers("content-type")
            .max_age_seconds(3600)
            .build()
            .map_err(Error::internal)?;
        let cors = CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .map_err(Error::internal)?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(cors)
            .send()
            .await
            .map_err(|e| sdk_error("PutBucketCors", e))?;
        Ok(())
    }

    /// A URL that uploads exactly `size` bytes of `content_type` to `key` until `now + ttl`.
    /// Content type and length are part of the signature, so S3 refuses any other upload.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<SignedUrl> {
        let size = i64::try_from(size).map_err(Error::internal)?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(presigning(now, ttl)?)
            .await
            .map_err(|e| sdk_error("PresignPutObject", e))?;
        Ok(signed(&presigned))
    }

    /// A URL that downloads `key` until `now + ttl`. S3 answers it with the pinned
    /// `content_type` and `Content-Disposition: attachment` under `file_name` (RFC 6266/8187
    /// `filename*`, percent-encoded UTF-8), both fixed by the signature, so a browser saves the
    /// file instead of rendering it whatever the object claims to be.
    pub async fn presign_get(
        &self,
        key: &str,
        file_name: &str,
        content_type: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition(attachment_disposition(file_name))
            .presigned(presigning(now, ttl)?)
            .await
            .map_err(|e| sdk_error("PresignGetObject", e))?;
        Ok(presigned.uri().to_owned())
    }
}

/// `attachment; filename*=UTF-8''<name>` with every byte outside RFC 8187's `attr-char`
/// percent-encoded, so quotes, semicolons and line breaks in a user's file name cannot change
/// the header's meaning.
pub fn attachment_disposition(file_name: &str) -> String {
    const ATTR_CHAR_COMPLEMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    format!(
        "attachment; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, ATTR_CHAR_COMPLEMENT)
    )
}

fn presigning(now: DateTime<Utc>, ttl: Duration) -> Result<PresigningConfig> {
    PresigningConfig::builder()
        .start_time(SystemTime::from(now))
        .expires_in(ttl)
        .build()
        .map_err(Error::internal)
}

fn signed(presigned: &PresignedRequest) -> SignedUrl {
    SignedUrl {
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
    }
}

/// Translates an S3 SDK failure (see `store::aws_error`, the one translation).
fn sdk_error<E: ProvideErrorMetadata + Debug>(operation: &str, error: SdkError<E>) -> Error {
    crate::store::aws_error("S3", operation, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_name_is_percent_encoded_utf8() {
        assert_eq!(
            attachment_disposition("résumé \"final\";.pdf"),
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B.pdf"
        );
        assert_eq!(
            attachment_disposition("log_1.txt"),
            "attachment; filename*=UTF-8''log_1.txt"
        );
    }
}
