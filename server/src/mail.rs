//! Outgoing email over SMTP (lettre): recovery links and one-time codes. The cores only say
//! which [`Email`]s to send; the edge hands them to the [`Mailer`], off the request's path.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use portcullis_core::mail::Email;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Upgrade with STARTTLS; refuse to send if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl SmtpSecurity {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" | "off" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" | "smtps" => Some(Self::Tls),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<crate::crypto::Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address `{0}`")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// Sends mail through the configured SMTP server, or says plainly that none is configured.
#[derive(Clone)]
pub struct Mailer {
    inner: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Mailer {
    pub fn new(settings: Option<&SmtpSettings>) -> Result<Self, MailError> {
        let Some(s) = settings else {
            return Ok(Self { inner: None });
        };
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|_| MailError::Address(s.from.clone()))?;
        let builder = match s.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            }
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| MailError::Smtp(e.to_string()))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .map_err(|e| MailError::Smtp(e.to_string()))?,
        };
        let mut builder = builder.port(s.port);
        if let (Some(user), Some(pass)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
        }
        Ok(Self {
            inner: Some((builder.build(), from)),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.inner.is_some()
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let Some((transport, from)) = &self.inner else {
            tracing::warn!(subject = %email.subject, "email not sent: no SMTP server is configured");
            return Ok(());
        };
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::Address(email.to.clone()))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&email.subject)
            .body(email.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }

    /// Delivers `emails` in the background: callers answer at once, whether or not there was
    /// anything to send, so the answer's timing tells nothing about the account.
    pub fn send_later(&self, emails: Vec<Email>) {
        if emails.is_empty() {
            return;
        }
        let mailer = self.clone();
        tokio::spawn(async move {
            for email in &emails {
                if let Err(e) = mailer.send(email).await {
                    tracing::error!(error = %e, subject = %email.subject, "sending email failed");
                }
            }
        });
    }
}
