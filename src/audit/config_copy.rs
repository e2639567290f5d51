//! The config copy of a bundle: the effective config, without its secrets.

use anyhow::Context;

use crate::config::Config;

/// The config the run used: the file's keys with the environment's overrides applied, every
/// secret-named key removed and every URL's password masked.
pub(super) fn effective_config(config: &Config, run_id: i64) -> anyhow::Result<String> {
    let mut table = if config.path.as_os_str().is_empty() {
        toml::Table::new()
    } else {
        let text = std::fs::read_to_string(&config.path)
            .with_context(|| format!("config {}: cannot read", config.path.display()))?;
        text.parse::<toml::Table>()
            .with_context(|| format!("config {}: cannot read", config.path.display()))?
    };
    let s = |v: &str| toml::Value::String(v.to_string());
    let section = |table: &mut toml::Table, name: &str| -> toml::Table {
        match table.remove(name) {
            Some(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        }
    };
    table.insert("data_dir".into(), s(&config.data_dir.display().to_string()));
    let mut database = section(&mut table, "database");
    database.insert("url".into(), s(&config.database_url));
    table.insert("database".into(), toml::Value::Table(database));
    let mut flexiti = section(&mut table, "flexiti");
    flexiti.insert("environment".into(), s(&config.file.flexiti.environment));
    flexiti.insert("client_id".into(), s(&config.file.flexiti.client_id));
    table.insert("flexiti".into(), toml::Value::Table(flexiti));
    if config.file.email.is_some() {
        let mut email = section(&mut table, "email");
        let to = config.email.to.iter().map(|t| s(t)).collect();
        email.insert("to".into(), toml::Value::Array(to));
        email.insert("smtp_host".into(), s(&config.email.smtp_host));
        if let Some(port) = config.email.smtp_port {
            email.insert("smtp_port".into(), toml::Value::Integer(i64::from(port)));
        }
        if let Some(user) = &config.email.username {
            email.insert("username".into(), s(user));
        }
        table.insert("email".into(), toml::Value::Table(email));
    }
    scrub_config(&mut table);
    let source = if config.path.as_os_str().is_empty() {
        "no config file: every default applied".to_string()
    } else {
        format!("from {}", config.path.display())
    };
    Ok(format!(
        "# Effective config of run {run_id} ({source}), with the environment's overrides;\n\
         # secrets removed: secret, password and token keys, URL passwords. Keys not shown\n\
         # took their defaults.\n{}",
        toml::to_string(&table).context("writing the config copy")?
    ))
}

/// Drops secret-named keys and masks URL passwords (and any registered secret) in strings.
fn scrub_config(table: &mut toml::Table) {
    let secret_keys: Vec<String> = table
        .keys()
        .filter(|key| {
            let key = key.to_ascii_lowercase();
            ["secret", "password", "passwd", "token"]
                .iter()
                .any(|s| key.contains(s))
        })
        .cloned()
        .collect();
    for key in secret_keys {
        table.remove(&key);
    }
    for (_, value) in table.iter_mut() {
        scrub_value(value);
    }
}

fn scrub_value(value: &mut toml::Value) {
    match value {
        toml::Value::String(text) => *text = crate::redact::url(&crate::redact::text(text)),
        toml::Value::Array(items) => items.iter_mut().for_each(scrub_value),
        toml::Value::Table(table) => scrub_config(table),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_copy_loses_secret_keys_and_url_passwords() {
        let mut table: toml::Table = r#"
            merchant = "Acme"
            [database]
            url = "postgres://recon:p@ss@db/recon"
            [email]
            password = "hunter22"
            smtp_host = "smtp.example.com"
            [custom]
            api_token = "abc123456"
            note = "client_secret=s3cr3t-value"
        "#
        .parse()
        .expect("toml");
        scrub_config(&mut table);
        let text = toml::to_string(&table).expect("toml");
        assert!(text.contains("postgres://recon:***@db/recon"), "{text}");
        assert!(
            text.contains("smtp.example.com") && text.contains("Acme"),
            "{text}"
        );
        for secret in ["p@ss", "hunter22", "abc123456", "s3cr3t-value"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
