//! Configuration: a TOML file, then environment overrides, turned into a checked [`Config`]
//! before anything touches the network (a run then makes its plan from it, `src/job/plan.rs`).
//!
//! Secrets never come from the file: the Flexiti client secret comes from
//! `FLEXITI_CLIENT_SECRET` (or a file named by `FLEXITI_CLIENT_SECRET_FILE`), the SMTP password
//! from `FLEXITI_SMTP_PASSWORD` (or `FLEXITI_SMTP_PASSWORD_FILE`). A key the program does not
//! know is an error naming the key, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::{Amount, BusinessCalendar};
use crate::flexiti::FlexitiSettings;
use crate::ledger::LedgerSettings;
use crate::notify::{EmailPolicy, EmailSettings};

/// The config file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Shown in emails and used to name the run lock.
    #[serde(default = "default_merchant")]
    pub merchant: String,
    #[serde(default = "default_zone")]
    pub time_zone: String,
    #[serde(default = "default_window")]
    pub match_window_days: u32,
    #[serde(default = "default_tolerance")]
    pub amount_tolerance: String,
    /// Database, audit bundles, lock and outbox live here unless configured elsewhere.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default = "default_flexiti")]
    pub flexiti: FlexitiSettings,
    #[serde(default)]
    pub ledger: LedgerSettings,
    /// Without an `[email]` section no email is sent.
    pub email: Option<EmailSettings>,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub audit: AuditSection,
    /// The permission bits taken away from every file and folder the program creates (octal, as
    /// in the shell's `umask`): `077` makes them owner-only (0600 files, 0700 folders).
    #[serde(default = "default_umask")]
    pub umask: String,
}

fn default_merchant() -> String {
    "merchant".into()
}
fn default_zone() -> String {
    "America/Toronto".into()
}
fn default_window() -> u32 {
    1
}
fn default_tolerance() -> String {
    "0.00".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_flexiti() -> FlexitiSettings {
    FlexitiSettings::new("training", "", SecretString::from(String::new()))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://path.db` or `postgres://…`; default `sqlite://<data_dir>/flexiti-recon.db`.
    pub url: Option<String>,
}

fn default_umask() -> String {
    "077".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// Audit bundles older than this many days are deleted at the end of a run; 0 keeps them all.
    pub keep_days: u32,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection { keep_days: 90 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Prometheus textfile to write after each run (for node_exporter), if set.
    pub textfile: Option<PathBuf>,
}

/// A loaded, checked configuration with paths made absolute against the config's folder.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub file: FileConfig,
    pub base_dir: PathBuf,
    pub calendar: BusinessCalendar,
    pub tolerance: Amount,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// `[flexiti]` with the client secret filled from the environment when set: the one copy
    /// of the secret the process holds (empty when not set).
    pub flexiti: FlexitiSettings,
    /// `[email]` with its folder made absolute and the SMTP password from the environment.
    pub email: EmailSettings,
    /// `umask` as bits.
    pub umask: u32,
}

/// Reads a secret from `VAR`, or from the file named by `VAR_FILE`.
pub fn secret_from_env(var: &str) -> anyhow::Result<Option<SecretString>> {
    if let Ok(value) = std::env::var(var)
        && !value.is_empty()
    {
        return Ok(Some(SecretString::from(value)));
    }
    let file_var = format!("{var}_FILE");
    if let Ok(path) = std::env::var(&file_var) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{file_var}: cannot read the file it names ({path})"))?;
        return Ok(Some(SecretString::from(
            text.trim_end_matches(['\n', '\r']).to_string(),
        )));
    }
    Ok(None)
}

impl Config {
    /// Every default, for a run without a config file: paths relative to the current folder.
    pub fn defaults() -> anyhow::Result<Config> {
        let file: FileConfig = toml::from_str("").context("built-in defaults")?;
        Config::from_file(PathBuf::new(), file, PathBuf::from("."))
    }

    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("config {}: cannot read", path.display()))?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "config {} {}: {}",
                path.display(),
                location(&text, &e),
                e.message().trim()
            )
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_file(path.to_path_buf(), file, base_dir)
    }

    pub fn from_file(
        path: PathBuf,
        mut file: FileConfig,
        base_dir: PathBuf,
    ) -> anyhow::Result<Config> {
        apply_env(&mut file, &|name| std::env::var(name))?;
        let zone: Tz = file.time_zone.parse().map_err(|_| {
            anyhow::anyhow!(
                "config time_zone: '{}' is not an IANA time zone (e.g. America/Toronto)",
                file.time_zone
            )
        })?;
        let tolerance = Amount::parse(&file.amount_tolerance, false)
            .map_err(|e| anyhow::anyhow!("config amount_tolerance: {e}"))?;
        if tolerance.is_negative() {
            bail!("config amount_tolerance: must not be negative");
        }
        if file.match_window_days > 31 {
            bail!(
                "config match_window_days: {} is more than 31",
                file.match_window_days
            );
        }
        if file.flexiti.page_size == 0 || file.flexiti.concurrency == 0 {
            bail!("config flexiti.page_size and flexiti.concurrency must be at least 1");
        }
        // Without a client id the API is not used (`--flexiti-dir`); the fetch refuses to start.
        if !file.flexiti.client_id.is_empty() {
            file.flexiti
                .validate()
                .map_err(|e| anyhow::anyhow!("config flexiti: {e}"))?;
        }
        file.ledger.validate().context("config")?;
        let umask = u32::from_str_radix(file.umask.trim(), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "config umask: '{}' is not an octal mode such as 077 or 027",
                    file.umask
                )
            })?;
        let data_dir = normalize(&base_dir.join(&file.data_dir));
        let database_url = match &file.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", data_dir.join("flexiti-recon.db").display()),
        };
        crate::redact::register_url_password(&database_url);
        let mut flexiti = file.flexiti.clone();
        if let Some(secret) = secret_from_env("FLEXITI_CLIENT_SECRET")? {
            crate::redact::register(secret.expose_secret());
            flexiti.client_secret = secret;
        }
        let mut email = file.email.clone().unwrap_or_else(|| EmailSettings {
            policy: EmailPolicy::Never,
            ..EmailSettings::default()
        });
        email.file_dir = if email.file_dir.as_os_str().is_empty()
            || email.file_dir == EmailSettings::default().file_dir
        {
            data_dir.join("outbox")
        } else {
            normalize(&base_dir.join(&email.file_dir))
        };
        email.ca_file = email.ca_file.map(|path| normalize(&base_dir.join(path)));
        email.password = secret_from_env("FLEXITI_SMTP_PASSWORD")?;
        if let Some(password) = &email.password {
            crate::redact::register(password.expose_secret());
        }
        email
            .validate()
            .map_err(|e| anyhow::anyhow!("config {e}"))?;
        Ok(Config {
            path,
            calendar: BusinessCalendar::new(zone),
            tolerance,
            data_dir,
            database_url,
            flexiti,
            email,
            umask,
            file,
            base_dir,
        })
    }
}

/// Drops `.` components so that paths shown to people read cleanly.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn location(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}")
        }
        None => "(unknown line)".into(),
    }
}

/// Environment overrides of the settings an operator most often changes per machine. A variable
/// that is set (and not empty) takes effect or fails naming itself: a bad value is never
/// skipped for the file's.
fn apply_env(
    file: &mut FileConfig,
    env: &dyn Fn(&str) -> Result<String, std::env::VarError>,
) -> anyhow::Result<()> {
    let var = |name: &str| -> anyhow::Result<Option<String>> {
        match env(name) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Ok(Some(v.trim().to_string())),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{name}: the value is not UTF-8"),
        }
    };
    if let Some(v) = var("FLEXITI_DATABASE_URL")? {
        // The value may hold a password: only its scheme is ever shown.
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| v.starts_with(scheme))
        {
            let scheme = v.split(':').next().unwrap_or_default();
            bail!(
                "FLEXITI_DATABASE_URL: scheme '{scheme}' is not supported (use sqlite://PATH or \
                 postgres://USER@HOST/DB)"
            );
        }
        file.database.url = Some(v);
    }
    if let Some(v) = var("FLEXITI_ENVIRONMENT")? {
        file.flexiti.environment = v;
        file.flexiti
            .base_url()
            .map_err(|e| anyhow::anyhow!("FLEXITI_ENVIRONMENT: {e}"))?;
    }
    if let Some(v) = var("FLEXITI_CLIENT_ID")? {
        if v.len() > 100 || !v.is_ascii() {
            bail!("FLEXITI_CLIENT_ID: must be 1 to 100 ASCII characters");
        }
        file.flexiti.client_id = v;
    }
    if let Some(v) = var("FLEXITI_DATA_DIR")? {
        file.data_dir = PathBuf::from(v);
    }
    const EMAIL_VARS: [&str; 4] = [
        "FLEXITI_EMAIL_TO",
        "FLEXITI_SMTP_HOST",
        "FLEXITI_SMTP_PORT",
        "FLEXITI_SMTP_USERNAME",
    ];
    let Some(email) = file.email.as_mut() else {
        for name in EMAIL_VARS {
            if var(name)?.is_some() {
                bail!(
                    "{name}: set, but the config has no [email] section, so no email is sent \
                     (add the section, or unset {name})"
                );
            }
        }
        return Ok(());
    };
    if let Some(v) = var("FLEXITI_EMAIL_TO")? {
        let to: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
        for address in &to {
            address.parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!("FLEXITI_EMAIL_TO: '{address}' is not an email address ({e})")
            })?;
        }
        email.to = to;
    }
    if let Some(v) = var("FLEXITI_SMTP_HOST")? {
        if v.contains(char::is_whitespace) || v.contains('/') {
            bail!("FLEXITI_SMTP_HOST: '{v}' is not a host name or address");
        }
        email.smtp_host = v;
    }
    if let Some(v) = var("FLEXITI_SMTP_PORT")? {
        match v.parse::<u16>() {
            Ok(port) if port > 0 => email.smtp_port = Some(port),
            _ => bail!("FLEXITI_SMTP_PORT: '{v}' is not a port number (1 to 65535)"),
        }
    }
    if let Some(v) = var("FLEXITI_SMTP_USERNAME")? {
        email.username = Some(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
