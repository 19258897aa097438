//! Mail through Amazon SES's v1 API: the only module that imports `aws_sdk_ses`.
//!
//! Every message has a plain-text and an HTML part, rendered from a template of its [`Kind`]:
//! the embedded defaults (`shared/mail/`), or files of the same names in the directory
//! `SESAME_MAIL_TEMPLATES` names, read once at cold start. A template is text with `{{name}}`
//! placeholders; values are HTML-escaped in the HTML part. The text template's first line is
//! `Subject: ...`. SDK errors go through the store's one translation (`store::aws_error`):
//! throttling and outages become [`Error::Unavailable`]. Timeouts and retries come from the
//! shared AWS configuration.
//!
//! In local mode the link of every message is also logged, so a developer running `make run`
//! can follow it; elsewhere links are secrets and never logged.

use std::sync::Arc;

use aws_sdk_ses::Client;
use aws_sdk_ses::config::Region;
use aws_sdk_ses::types::{Body, Content, Destination, Message as SesMessage};

use crate::config::{AwsCalls, Config};
use crate::domain::Email;
use crate::error::{Error, Result};

/// The kinds of mail Sesame sends; each names its template files (`<name>.txt`, `<name>.html`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The verification link of a new account (or a resend). Placeholders: `name`, `link`.
    VerifyEmail,
    /// The password-reset link. Placeholders: `name`, `link`.
    ResetPassword,
    /// The confirmation link of an e-mail change, to the new address. Placeholders: `name`,
    /// `link`, `email` (the new address).
    ChangeEmail,
    /// The notice to the old address that the account moved. Placeholders: `name`, `email`
    /// (the new address).
    EmailChanged,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::VerifyEmail,
        Kind::ResetPassword,
        Kind::ChangeEmail,
        Kind::EmailChanged,
    ];

    /// The template files' base name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::VerifyEmail => "verify-email",
            Kind::ResetPassword => "reset-password",
            Kind::ChangeEmail => "change-email",
            Kind::EmailChanged => "email-changed",
        }
    }

    fn embedded(self) -> (&'static str, &'static str) {
        match self {
            Kind::VerifyEmail => (
                include_str!("../mail/verify-email.txt"),
                include_str!("../mail/verify-email.html"),
            ),
            Kind::ResetPassword => (
                include_str!("../mail/reset-password.txt"),
                include_str!("../mail/reset-password.html"),
            ),
            Kind::ChangeEmail => (
                include_str!("../mail/change-email.txt"),
                include_str!("../mail/change-email.html"),
            ),
            Kind::EmailChanged => (
                include_str!("../mail/email-changed.txt"),
                include_str!("../mail/email-changed.html"),
            ),
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One kind's templates.
#[derive(Debug, Clone)]
struct Template {
    subject: String,
    text: String,
    html: String,
}

impl Template {
    /// Splits the text template's `Subject:` line from its body.
    fn parse(kind: Kind, text: &str, html: &str) -> std::result::Result<Template, String> {
        let (first, body) = text.split_once('\n').unwrap_or((text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .ok_or_else(|| format!("{}.txt must start with a `Subject:` line", kind.name()))?;
        Ok(Template {
            subject: subject.trim().to_owned(),
            text: body.trim_start_matches(['\r', '\n']).to_owned(),
            html: html.to_owned(),
        })
    }
}

/// The templates of every kind.
#[derive(Debug, Clone)]
pub struct Templates(Vec<(Kind, Template)>);

impl Templates {
    /// The embedded defaults overridden by the files found in `dir` (a kind may override only
    /// its text or only its HTML). Fails on an unreadable file or a text template without its
    /// `Subject:` line, so a broken configuration stops the cold start.
    pub fn load(dir: Option<&str>) -> std::result::Result<Templates, crate::BoxError> {
        let mut templates = Vec::new();
        for kind in Kind::ALL {
            let (mut text, mut html) = kind.embedded();
            let (own_text, own_html);
            if let Some(dir) = dir {
                let path = std::path::Path::new(dir);
                if let Some(found) = read_optional(&path.join(format!("{}.txt", kind.name())))? {
                    own_text = found;
                    text = &own_text;
                }
                if let Some(found) = read_optional(&path.join(format!("{}.html", kind.name())))? {
                    own_html = found;
                    html = &own_html;
                }
            }
            templates.push((kind, Template::parse(kind, text, html)?));
        }
        Ok(Templates(templates))
    }

    /// The embedded templates.
    pub fn embedded() -> Templates {
        Templates::load(None).expect("the embedded templates are well-formed")
    }

    /// The message of `kind` with `values` put in for their `{{name}}` placeholders (HTML-escaped
    /// in the HTML part). Unknown placeholders are left as they are.
    pub fn render(&self, kind: Kind, values: &[(&str, &str)]) -> Message {
        let template = self
            .0
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| t)
            .expect("every kind has a template");
        Message {
            subject: substitute(&template.subject, values, false),
            text: substitute(&template.text, values, false),
            html: substitute(&template.html, values, true),
        }
    }
}

fn read_optional(path: &std::path::Path) -> std::result::Result<Option<String>, crate::BoxError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("SESAME_MAIL_TEMPLATES: {}: {e}", path.display()).into()),
    }
}

/// Replaces every `{{name}}` of `values` in `template`.
fn substitute(template: &str, values: &[(&str, &str)], html: bool) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        let value = if html {
            escape_html(value)
        } else {
            (*value).to_owned()
        };
        out = out.replace(&format!("{{{{{name}}}}}"), &value);
    }
    out
}

/// Escapes the characters that mean something in HTML text and attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The sender of Sesame's mail; cheap to clone. Without an SES client (a context built from
/// parts, as the bench does) it sends nothing and logs that it did not.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: Option<Client>,
    from: String,
    templates: Arc<Templates>,
    /// Local mode: log each message's link.
    show_links: bool,
}

impl Mailer {
    /// The SES client from the shared AWS configuration and the configured sender and templates.
    pub fn connect(
        sdk_config: &aws_config::SdkConfig,
        config: &Config,
    ) -> std::result::Result<Mailer, crate::BoxError> {
        if config.public_url.is_none() && !config.local_dev {
            tracing::warn!(
                "SESAME_PUBLIC_URL is unset: the links Sesame mails point at {}",
                config.link_origin()
            );
        }
        Ok(Mailer {
            client: Some(Client::new(sdk_config)),
            from: config.mail_from.clone(),
            templates: Arc::new(Templates::load(config.mail_templates.as_deref())?),
            show_links: config.local_dev,
        })
    }

    /// A mailer on a local endpoint (LocalStack) with static test credentials.
    pub fn local(endpoint: &str, config: &Config, calls: &AwsCalls) -> Mailer {
        let ses = aws_sdk_ses::Config::builder()
            .http_client(crate::config::http_client())
            .timeout_config(calls.timeout_config())
            .retry_config(calls.retry_config())
            .behavior_version(aws_sdk_ses::config::BehaviorVersion::latest())
            .region(Region::new(config.aws_region.clone()))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_ses::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "sesame-local",
            ))
            .build();
        Mailer {
            client: Some(Client::from_conf(ses)),
            from: config.mail_from.clone(),
            templates: Arc::new(Templates::embedded()),
            show_links: config.local_dev,
        }
    }

    /// A mailer that sends nothing (a context built from parts, until given a real one).
    pub fn disabled(config: &Config) -> Mailer {
        Mailer {
            client: None,
            from: config.mail_from.clone(),
            templates: Arc::new(Templates::embedded()),
            show_links: config.local_dev,
        }
    }

    /// The templates messages are rendered from.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Asks SES to verify the sender address (`VerifyEmailIdentity`), which LocalStack requires
    /// before it sends from it. Local endpoints only (the local server, the tests); in AWS the
    /// sender identity is verified once by its owner.
    pub async fn verify_sender(&self) -> Result<()> {
        let Some(client) = &self.client else {
            return Ok(());
        };
        client
            .verify_email_identity()
            .email_address(&self.from)
            .send()
            .await
            .map_err(|e| crate::store::aws_error("SES", "VerifyEmailIdentity", e))?;
        Ok(())
    }

    /// Renders a message of `kind` with `values` and sends it to `to`. `link`, the secret link
    /// the message carries (if any), is logged in local mode only.
    pub async fn send(
        &self,
        to: &Email,
        kind: Kind,
        values: &[(&str, &str)],
        link: Option<&str>,
    ) -> Result<()> {
        let message = self.templates.render(kind, values);
        if self.show_links {
            tracing::info!(
                to = %to,
                kind = kind.name(),
                link = link.unwrap_or("-"),
                "mail (local mode shows its link)"
            );
        }
        let Some(client) = &self.client else {
            tracing::debug!(kind = kind.name(), "no mail client: message not sent");
            return Ok(());
        };
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(Error::internal)
        };
        let body = Body::builder()
            .text(content(&message.text)?)
            .html(content(&message.html)?)
            .build();
        let ses_message = SesMessage::builder()
            .subject(content(&message.subject)?)
            .body(body)
            .build();
        client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .message(ses_message)
            .send()
            .await
            .map_err(|e| crate::store::aws_error("SES", "SendEmail", e))?;
        tracing::info!(kind = kind.name(), "mail sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_substituted_and_escaped_in_html_only() {
        let templates = Templates::embedded();
        let message = templates.render(
            Kind::VerifyEmail,
            &[
                ("name", "<Ada & Co>"),
                ("link", "https://x.test/v?token=a&b"),
            ],
        );
        assert!(message.text.contains("<Ada & Co>"), "{}", message.text);
        assert!(message.text.contains("https://x.test/v?token=a&b"));
        assert!(
            message.html.contains("&lt;Ada &amp; Co&gt;"),
            "{}",
            message.html
        );
        assert!(message.html.contains("https://x.test/v?token=a&amp;b"));
        assert!(!message.subject.is_empty());
        assert!(!message.html.contains("{{"), "{}", message.html);
    }

    #[test]
    fn a_directory_overrides_the_templates_it_has() {
        let dir = std::env::temp_dir().join(format!("sesame-mail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("reset-password.txt"),
            "Subject: Reset for {{name}}\n\nGo to {{link}}\n",
        )
        .unwrap();
        let templates = Templates::load(dir.to_str()).unwrap();
        let reset = templates.render(Kind::ResetPassword, &[("name", "Ada"), ("link", "L")]);
        assert_eq!(reset.subject, "Reset for Ada");
        assert_eq!(reset.text, "Go to L\n");
        assert_eq!(
            reset.html,
            Templates::embedded()
                .render(Kind::ResetPassword, &[("name", "Ada"), ("link", "L")])
                .html
        );
        std::fs::write(dir.join("verify-email.txt"), "no subject line").unwrap();
        assert!(Templates::load(dir.to_str()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
