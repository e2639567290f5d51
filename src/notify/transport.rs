//! Delivering a rendered email: SMTP in production, one `.eml` file per message for dry runs,
//! the demo and tests. Settings are checked before anything is sent, so that a run never ends
//! with "the email could not be sent" because of a typo that was visible at start-up. Plain
//! SMTP is refused unless the server is on this machine: credentials and findings never cross a
//! network in clear.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::render::RenderedEmail;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmailPolicy {
    #[default]
    Always,
    #[serde(alias = "only-when-findings")]
    OnlyWhenFindings,
    /// No report emails; a failed run still alerts.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    #[default]
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: only to a loopback host.
    None,
}

/// The `[email]` section of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    pub from: String,
    pub to: Vec<String>,
    pub policy: EmailPolicy,
    pub transport: TransportKind,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    /// Defaults by TLS mode: 587 for STARTTLS, 465 implicit, 25 plain.
    pub smtp_port: Option<u16>,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Never read from the config file: the app fills it from `FLEXITI_SMTP_PASSWORD`.
    #[serde(skip)]
    pub password: Option<SecretString>,
    pub timeout_secs: u64,
    /// Root certificate (PEM) trusted for the SMTP server besides the system's: an internal
    /// relay with a private CA. Relative to the config file.
    pub ca_file: Option<PathBuf>,
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            from: "flexiti-recon <flexiti-recon@localhost>".into(),
            to: Vec::new(),
            policy: EmailPolicy::Always,
            transport: TransportKind::File,
            file_dir: PathBuf::from("outbox"),
            smtp_host: "localhost".into(),
            smtp_port: None,
            tls: TlsMode::Starttls,
            username: None,
            password: None,
            timeout_secs: 30,
            ca_file: None,
        }
    }
}

/// A setting that cannot work; reported before the run starts (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    #[error("email.{field}: '{value}' is not an email address: {reason}")]
    Address {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("email.to is empty: add a recipient or set email.policy = \"never\"")]
    NoRecipients,
    #[error(
        "email.tls = \"none\" is allowed only to a loopback host, not '{0}': use \"starttls\" or \"implicit\""
    )]
    PlainToRemote(String),
    #[error("email.username is set but FLEXITI_SMTP_PASSWORD is empty")]
    MissingPassword,
    #[error("email.smtp_host '{host}': {reason}")]
    Tls { host: String, reason: String },
    #[error("email.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// Why a message did not leave. The run keeps its results and ends partial.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Config(#[from] EmailConfigError),
    #[error("building the email: {0}")]
    Message(String),
    #[error("{dir}: cannot write the email: {reason}")]
    File { dir: String, reason: String },
    #[error("smtp {server}: {source}")]
    Smtp {
        server: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("smtp {server}: no answer within {secs} s")]
    Timeout { server: String, secs: u64 },
}

/// Where a message went, for the log and the run record (addresses are not repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentTo {
    File(PathBuf),
    Smtp { server: String, recipients: usize },
}

impl std::fmt::Display for SentTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SentTo::File(path) => write!(f, "file {}", path.display()),
            SentTo::Smtp { server, recipients } => {
                write!(f, "smtp {server} ({recipients} recipients)")
            }
        }
    }
}

impl EmailSettings {
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        })
    }

    pub fn server(&self) -> String {
        format!("{}:{}", self.smtp_host, self.port())
    }

    fn mailbox(field: &'static str, value: &str) -> Result<Mailbox, EmailConfigError> {
        value.parse().map_err(
            |e: lettre::address::AddressError| EmailConfigError::Address {
                field,
                value: value.to_string(),
                reason: e.to_string(),
            },
        )
    }

    /// Checks addresses, recipients and the transport's safety rules.
    pub fn validate(&self) -> Result<(), EmailConfigError> {
        Self::mailbox("from", &self.from)?;
        for to in &self.to {
            Self::mailbox("to", to)?;
        }
        if self.to.is_empty() && self.policy != EmailPolicy::Never {
            return Err(EmailConfigError::NoRecipients);
        }
        if self.transport == TransportKind::Smtp {
            if self.tls == TlsMode::None && !is_loopback(&self.smtp_host) {
                return Err(EmailConfigError::PlainToRemote(self.smtp_host.clone()));
            }
            let has_password = self
                .password
                .as_ref()
                .is_some_and(|p| !p.expose_secret().is_empty());
            if self.username.is_some() && !has_password {
                return Err(EmailConfigError::MissingPassword);
            }
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A whole SMTP send may take this many `timeout_secs` (greeting, EHLO, TLS, MAIL, RCPT, DATA).
const SESSION_TIMEOUTS: u64 = 4;

/// The email backend.
#[derive(Clone)]
pub enum Mailer {
    File {
        dir: PathBuf,
    },
    /// The transport is built per send, inside the async runtime: lettre's connection pool
    /// needs a running runtime, and a nightly job sends one or two messages.
    Smtp {
        builder: Box<AsyncSmtpTransportBuilder>,
        server: String,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::File { dir } => f.debug_struct("File").field("dir", dir).finish(),
            Mailer::Smtp { server, .. } => f.debug_struct("Smtp").field("server", server).finish(),
        }
    }
}

impl Mailer {
    /// Builds the backend named by the settings, after validating them. No connection is made.
    pub fn from_settings(settings: &EmailSettings) -> Result<Mailer, EmailConfigError> {
        settings.validate()?;
        match settings.transport {
            TransportKind::File => Ok(Mailer::File {
                dir: settings.file_dir.clone(),
            }),
            TransportKind::Smtp => Self::smtp(settings),
        }
    }

    fn smtp(settings: &EmailSettings) -> Result<Mailer, EmailConfigError> {
        let host = settings.smtp_host.clone();
        let tls_parameters = || -> Result<TlsParameters, EmailConfigError> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some(path) = &settings.ca_file {
                let ca_error = |reason: String| EmailConfigError::CaFile {
                    path: path.display().to_string(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build().map_err(|e| EmailConfigError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })
        };
        let tls = match settings.tls {
            TlsMode::Starttls => Tls::Required(tls_parameters()?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(settings.port())
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Mailer::Smtp {
            builder: Box::new(builder),
            server: settings.server(),
        })
    }

    /// Checks that mail can go out without sending any: for SMTP, a session up to `NOOP`
    /// (greeting, `EHLO`, STARTTLS or the TLS handshake, and `AUTH` when credentials are set);
    /// for files, that the folder can be created. Returns what was checked.
    pub async fn probe(&self) -> Result<String, SendError> {
        match self {
            Mailer::File { dir } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendError::File {
                        dir: dir.display().to_string(),
                        reason: e.to_string(),
                    })?;
                Ok(format!("file transport into {}", dir.display()))
            }
            Mailer::Smtp { builder, server } => {
                let transport: AsyncSmtpTransport<Tokio1Executor> =
                    AsyncSmtpTransportBuilder::clone(builder).build();
                let smtp_error = |source| SendError::Smtp {
                    server: server.clone(),
                    source,
                };
                match transport.test_connection().await.map_err(smtp_error)? {
                    true => Ok(format!("smtp {server} answered EHLO and NOOP")),
                    false => Err(SendError::Message(format!(
                        "smtp {server}: the session did not answer NOOP"
                    ))),
                }
            }
        }
    }

    /// Sends one message to `settings.to`: text and HTML alternatives, plus the CSV attachment.
    pub async fn send(
        &self,
        email: &RenderedEmail,
        settings: &EmailSettings,
    ) -> Result<SentTo, SendError> {
        let message = build_message(email, settings)?;
        match self {
            Mailer::File { dir } => {
                let file_error = |reason: String| SendError::File {
                    dir: dir.display().to_string(),
                    reason,
                };
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| file_error(e.to_string()))?;
                let id = AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map_err(|e| file_error(e.to_string()))?;
                let path = dir.join(format!("{id}.eml"));
                tracing::info!(path = %path.display(), "email written");
                Ok(SentTo::File(path))
            }
            Mailer::Smtp { builder, server } => {
                let transport: AsyncSmtpTransport<Tokio1Executor> =
                    AsyncSmtpTransportBuilder::clone(builder).build();
                // lettre's timeout does not bound every read of the async session (a server
                // that accepts and never greets hangs it): this bounds the whole send.
                let secs = settings.timeout_secs.max(1) * SESSION_TIMEOUTS;
                tokio::time::timeout(Duration::from_secs(secs), transport.send(message))
                    .await
                    .map_err(|_| SendError::Timeout {
                        server: server.clone(),
                        secs,
                    })?
                    .map_err(|source| SendError::Smtp {
                        server: server.clone(),
                        source,
                    })?;
                tracing::info!(server = %server, recipients = settings.to.len(), "emailed");
                Ok(SentTo::Smtp {
                    server: server.clone(),
                    recipients: settings.to.len(),
                })
            }
        }
    }
}

fn build_message(email: &RenderedEmail, settings: &EmailSettings) -> Result<Message, SendError> {
    let mut builder = Message::builder()
        .from(EmailSettings::mailbox("from", &settings.from)?)
        .subject(email.subject.clone());
    if settings.to.is_empty() {
        return Err(EmailConfigError::NoRecipients.into());
    }
    for to in &settings.to {
        builder = builder.to(EmailSettings::mailbox("to", to)?);
    }
    let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = match &email.attachment {
        Some(attachment) => {
            let content_type = ContentType::parse(attachment.content_type)
                .map_err(|e| SendError::Message(format!("{}: {e}", attachment.content_type)))?;
            let part: SinglePart = lettre::message::Attachment::new(attachment.filename.clone())
                .body(attachment.bytes.clone(), content_type);
            MultiPart::mixed().multipart(alternative).singlepart(part)
        }
        None => alternative,
    };
    builder
        .multipart(body)
        .map_err(|e| SendError::Message(e.to_string()))
}
