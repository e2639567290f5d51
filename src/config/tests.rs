//! The config loader under hostile input: bad environment overrides fail naming the variable,
//! and no file or value makes it panic.

use std::collections::HashMap;
use std::env::VarError;

use proptest::prelude::*;

use super::*;

const WITH_EMAIL: &str = "[email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n";

fn file(text: &str) -> FileConfig {
    toml::from_str(text).expect("config parses")
}

fn with_env(text: &str, vars: &[(&str, &str)]) -> anyhow::Result<FileConfig> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut f = file(text);
    apply_env(&mut f, &|name| {
        map.get(name).cloned().ok_or(VarError::NotPresent)
    })?;
    Ok(f)
}

#[test]
fn every_bad_override_fails_naming_its_variable() {
    for (name, value) in [
        ("FLEXITI_SMTP_PORT", "abc"),
        ("FLEXITI_SMTP_PORT", "0"),
        ("FLEXITI_SMTP_PORT", "70000"),
        ("FLEXITI_SMTP_HOST", "smtp example.com"),
        ("FLEXITI_EMAIL_TO", "finance@example.com, not an address"),
        ("FLEXITI_DATABASE_URL", "mysql://user:hunter2@db/recon"),
        ("FLEXITI_ENVIRONMENT", "staging"),
        ("FLEXITI_ENVIRONMENT", "http://flexiti.example.com"),
        ("FLEXITI_CLIENT_ID", "caf\u{e9}"),
    ] {
        let err = with_env(WITH_EMAIL, &[(name, value)]).expect_err(name);
        let message = format!("{err:#}");
        assert!(message.starts_with(name), "{name}={value}: {message}");
        assert!(
            !message.contains("hunter2"),
            "a password is never shown: {message}"
        );
    }
}

#[test]
fn an_email_override_without_an_email_section_is_an_error_not_ignored() {
    for name in [
        "FLEXITI_EMAIL_TO",
        "FLEXITI_SMTP_HOST",
        "FLEXITI_SMTP_PORT",
        "FLEXITI_SMTP_USERNAME",
    ] {
        let err = with_env("", &[(name, "587")]).expect_err(name);
        assert!(
            format!("{err:#}").starts_with(&format!("{name}: set, but the config has no [email]")),
            "{err:#}"
        );
    }
}

#[test]
fn a_non_utf8_override_fails_naming_its_variable() {
    let mut f = file(WITH_EMAIL);
    let err = apply_env(&mut f, &|name| {
        if name == "FLEXITI_DATA_DIR" {
            Err(VarError::NotUnicode(std::ffi::OsString::from("x")))
        } else {
            Err(VarError::NotPresent)
        }
    })
    .expect_err("not UTF-8");
    assert_eq!(err.to_string(), "FLEXITI_DATA_DIR: the value is not UTF-8");
}

#[test]
fn good_overrides_take_effect_and_empty_ones_are_unset() {
    let f = with_env(
        WITH_EMAIL,
        &[
            ("FLEXITI_SMTP_PORT", " 2525 "),
            ("FLEXITI_SMTP_HOST", "relay.example.com"),
            ("FLEXITI_EMAIL_TO", "a@example.com, b@example.com"),
            ("FLEXITI_DATABASE_URL", "postgres://recon@127.0.0.1/recon"),
            ("FLEXITI_ENVIRONMENT", "training"),
            ("FLEXITI_CLIENT_ID", "acme"),
            ("FLEXITI_SMTP_USERNAME", ""),
        ],
    )
    .expect("good values");
    let email = f.email.expect("email");
    assert_eq!(email.smtp_port, Some(2525));
    assert_eq!(email.smtp_host, "relay.example.com");
    assert_eq!(email.to, ["a@example.com", "b@example.com"]);
    assert_eq!(email.username, None);
    assert_eq!(
        f.database.url.as_deref(),
        Some("postgres://recon@127.0.0.1/recon")
    );
    assert_eq!(f.flexiti.client_id, "acme");
}

fn load_text(text: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    Config::load(&path)
}

/// TOML with the config's own keys, each in its section, and values of every shape.
fn configish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just(("", "merchant")),
        Just(("", "time_zone")),
        Just(("", "match_window_days")),
        Just(("", "amount_tolerance")),
        Just(("", "data_dir")),
        Just(("ledger", "max_amount")),
        Just(("ledger", "delimiter")),
        Just(("ledger", "decimal_comma")),
        Just(("ledger", "files")),
        Just(("ledger", "amount_sign")),
        Just(("flexiti", "environment")),
        Just(("flexiti", "page_size")),
        Just(("flexiti", "client_id")),
        Just(("email", "smtp_port")),
        Just(("email", "to")),
        Just(("email", "tls")),
        Just(("database", "url")),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("\"92233720368547758.08\"".to_string()),
        Just("\"-0.01\"".to_string()),
        Just("\"1000000.00\"".to_string()),
        Just("\"America/Toronto\"".to_string()),
        Just("[]".to_string()),
        Just("[\"a\", 1]".to_string()),
        Just("{}".to_string()),
    ];
    prop::collection::btree_map(key, value, 0..8).prop_map(|pairs| {
        let mut sections: std::collections::BTreeMap<&str, String> = Default::default();
        for ((section, name), value) in pairs {
            let text = sections.entry(section).or_default();
            text.push_str(&format!("{name} = {value}\n"));
        }
        sections
            .into_iter()
            .map(|(section, body)| {
                if section.is_empty() {
                    body
                } else {
                    format!("[{section}]\n{body}")
                }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn fuzz_config_loader_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = load_text(&text);
    }

    #[test]
    fn fuzz_config_loader_never_panics_on_config_like_toml(text in configish()) {
        if let Err(e) = load_text(&text) {
            let message = format!("{e:#}");
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn fuzz_environment_overrides_never_panic(
        values in prop::collection::vec(any::<String>(), 8)
    ) {
        let names = [
            "FLEXITI_DATABASE_URL",
            "FLEXITI_ENVIRONMENT",
            "FLEXITI_CLIENT_ID",
            "FLEXITI_DATA_DIR",
            "FLEXITI_EMAIL_TO",
            "FLEXITI_SMTP_HOST",
            "FLEXITI_SMTP_PORT",
            "FLEXITI_SMTP_USERNAME",
        ];
        let vars: Vec<(&str, &str)> =
            names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        let _ = with_env(WITH_EMAIL, &vars);
    }
}

fn config_of(text: &str) -> anyhow::Result<Config> {
    let file: FileConfig = toml::from_str(text)?;
    Config::from_file(PathBuf::from("c.toml"), file, PathBuf::from("."))
}

#[test]
fn files_are_owner_only_and_bundles_kept_90_days_unless_configured_otherwise() {
    let config = config_of("").expect("defaults");
    assert_eq!(config.umask, 0o077);
    assert_eq!(config.file.audit.keep_days, 90);
    let config = config_of("umask = \"027\"\n[audit]\nkeep_days = 0\n").expect("valid");
    assert_eq!(config.umask, 0o027);
    assert_eq!(config.file.audit.keep_days, 0);
    let err = config_of("umask = \"0o777x\"").expect_err("not octal");
    assert!(err.to_string().starts_with("config umask:"), "{err}");
    let err = config_of("umask = \"1777\"").expect_err("too wide");
    assert!(err.to_string().starts_with("config umask:"), "{err}");
}
