//! Redaction of free text before it leaves the process: log lines, stored errors, the audit
//! bundle's texts, emails and what a command prints.
//!
//! Three nets, applied together by [`text`]:
//! - every secret value the process knows (the client secret, the SMTP password, the database
//!   password, each token Flexiti issued) is registered with [`register`] and replaced wherever
//!   it appears;
//! - secrets by shape: the value after a secret-named key (`"access_token": "…"`,
//!   `refresh_token=…`, `client_secret`, `password`, …), a `Bearer …` credential, the password
//!   of a URL (`scheme://user:password@host`, split at the last `@` so a password holding `@`
//!   is removed whole); a JSON string cut short is redacted to the end of the text;
//! - account numbers: an `account_number` value, and any standalone run of 8 to 14 digits
//!   (longer runs are Flexiti ids, shorter ones counts and capture ids), keep their last four.
//!
//! Redaction never fails and never grows unbounded: the registry keeps the latest
//! [`MAX_SECRETS`] values.

use std::sync::RwLock;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Values kept in the registry at most (a run holds a handful: secrets and a few tokens).
pub const MAX_SECRETS: usize = 256;

/// Values shorter than this are not registered: replacing them everywhere would garble text
/// without protecting anything worth the name.
const MIN_SECRET_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Keys whose value is a secret, in JSON bodies, forms, query strings and `key: value` text.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "secret",
    "password",
    "passwd",
];

/// Remembers `secret` so that [`text`] removes it from anything written from now on.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if secrets.iter().any(|s| s == secret) {
        return;
    }
    if secrets.len() >= MAX_SECRETS {
        secrets.remove(0);
    }
    secrets.push(secret.to_string());
}

/// Registers the password of a URL (a database URL), if it has one.
pub fn register_url_password(url: &str) {
    if let Some((start, end)) = url_password_span(url, 0) {
        register(&url[start..end]);
    }
}

/// `text` with every known secret, secret-shaped value and account number removed, and any NUL
/// (which PostgreSQL cannot store, e.g. in a failed call's excerpt) replaced by U+FFFD.
pub fn text(text: &str) -> String {
    let mut out = known_secrets(text);
    out = url_passwords(&out);
    out = keyed_values(&out);
    out = bearer_credentials(&out);
    let out = crate::domain::scrub_accounts(&out);
    if out.contains('\0') {
        out.replace('\0', "\u{FFFD}")
    } else {
        out
    }
}

/// A URL without its password, for people to read: `postgres://recon:***@db/recon`.
pub fn url(url: &str) -> String {
    url_passwords(url)
}

fn known_secrets(text: &str) -> String {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = text.to_string();
    // Longest first, so a secret that contains another is removed whole.
    let mut sorted: Vec<&String> = secrets.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in sorted {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

/// The byte span of the password of the first URL at or after `from`: after `scheme://user:`
/// up to the last `@` of the URL's authority-and-credentials part (which ends at whitespace, a
/// quote or the end of the text).
fn url_password_span(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut search = from;
    while let Some(found) = text[search..].find("://") {
        let start = search + found + 3;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"'<>`".contains(c))
            .map_or(text.len(), |e| start + e);
        let part = &text[start..end];
        if let Some(at) = part.rfind('@') {
            let userinfo = &part[..at];
            if let Some(colon) = userinfo.find(':')
                && !userinfo[..colon].contains('/')
                && colon + 1 < at
            {
                return Some((start + colon + 1, start + at));
            }
        }
        search = end.max(start);
    }
    None
}

fn url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    let mut copied = 0;
    while let Some((start, end)) = url_password_span(text, from) {
        out.push_str(&text[copied..start]);
        out.push_str("***");
        copied = end;
        from = end;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Replaces the value after each secret-named key. A key counts when it stands alone (not part
/// of a longer name) and is followed, possibly after a closing quote and blanks, by `:` or `=`.
fn keyed_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize, bool)> = Vec::new();
    for key in SECRET_KEYS.iter().chain(["account_number"].iter()) {
        let mut from = 0;
        while let Some(found) = lower[from..].find(key) {
            let at = from + found;
            from = at + key.len();
            if at > 0 && is_ident(bytes[at - 1]) {
                continue;
            }
            let account = *key == "account_number";
            if let Some((start, end)) = value_after_key(bytes, at + key.len())
                && (!account || bytes[start..end].iter().any(u8::is_ascii_digit))
            {
                spans.push((start, end, account));
            }
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, account) in spans {
        if start < copied {
            continue;
        }
        out.push_str(&text[copied..start]);
        if account {
            out.push_str(&crate::domain::mask_account(&text[start..end]));
        } else {
            out.push_str(REDACTED);
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The span of the value that follows a key ending at `i`: a JSON string's content (to the end
/// of the text when it is cut short), or a bare value up to a separator.
fn value_after_key(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    if bytes.get(i) == Some(&b'"') || bytes.get(i) == Some(&b'\'') {
        i += 1;
    } else if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'"') {
        i += 2;
    } else if bytes.get(i).is_some_and(|b| is_ident(*b)) {
        return None;
    }
    while bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b':' | b'=') => i += 1,
        _ => return None,
    }
    while bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    match bytes.get(i) {
        // A JSON string inside a JSON string (a body quoted in a JSON log line): `\"value\"`.
        Some(b'\\') if bytes.get(i + 1) == Some(&b'"') => {
            let start = i + 2;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'\\' && bytes[j] != b'"' {
                j += 1;
            }
            Some((start, j))
        }
        Some(b'"') => {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            Some((start, j.min(bytes.len())))
        }
        Some(_) => {
            let start = i;
            let mut j = start;
            while j < bytes.len() && !b" \t\r\n&,;\"'}]<>)".contains(&bytes[j]) {
                j += 1;
            }
            (j > start).then_some((start, j))
        }
        None => None,
    }
}

/// `Bearer <credential>` (any case) loses its credential.
fn bearer_credentials(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find("bearer ") {
        let at = from + found;
        let start = at + "bearer ".len();
        let mut end = start;
        while end < bytes.len() && !b" \t\r\n\"',;".contains(&bytes[end]) {
            end += 1;
        }
        from = start;
        if end > start && &text[start..end] != REDACTED && (at == 0 || !is_ident(bytes[at - 1])) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            from = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_replaced_so_the_text_can_be_stored_anywhere() {
        assert_eq!(text("bad\0body"), "bad\u{FFFD}body");
        assert_eq!(text("clean"), "clean");
    }

    #[test]
    fn a_url_password_holding_an_at_sign_is_removed_whole() {
        assert_eq!(
            url("postgres://recon:p@ss:w@rd@db.example:5432/recon"),
            "postgres://recon:***@db.example:5432/recon"
        );
        assert_eq!(
            url("postgres://recon@db/recon"),
            "postgres://recon@db/recon"
        );
        assert_eq!(url("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(
            text("connecting to postgres://a:b@c/d failed; retry postgres://e:f@g/h"),
            "connecting to postgres://a:***@c/d failed; retry postgres://e:***@g/h"
        );
    }

    #[test]
    fn token_replies_cut_or_garbled_lose_their_tokens() {
        let cut = r#"{"token_type":"bearer","access_token":"a1b2c3d4e5","expires_in":"soon","refresh_token":"f6g7h8"#;
        let out = text(cut);
        assert!(
            !out.contains("a1b2c3d4e5") && !out.contains("f6g7h8"),
            "{out}"
        );
        assert!(out.contains(r#""token_type":"bearer""#), "{out}");
        assert_eq!(
            text("grant_type=refresh_token&refresh_token=zz99yy88&client_secret=s3cr3t"),
            "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]"
        );
        assert_eq!(
            text(r#"{"message":"body {\"access_token\":\"q1w2e3r4\",\"x\":1}"}"#),
            r#"{"message":"body {\"access_token\":\"[redacted]\",\"x\":1}"}"#
        );
        assert_eq!(
            text("Authorization: Bearer abc.def-ghi"),
            "Authorization: Bearer [redacted]"
        );
    }

    #[test]
    fn account_numbers_keep_their_last_four_digits_and_ids_stay() {
        assert_eq!(
            text(r#"[{"authorization_id":4821907733105521,"account_number":"20076677","ref"#),
            r#"[{"authorization_id":4821907733105521,"account_number":"****6677","ref"#
        );
        assert_eq!(
            text("account_number: account closed (12345678901234)"),
            "account_number: account closed (****1234)"
        );
        assert_eq!(text("account_number=20076677"), "account_number=****6677");
        assert_eq!(
            text("ORD-20261123-000123 page 2"),
            "ORD-20261123-000123 page 2"
        );
    }

    #[test]
    fn registered_secrets_vanish_from_any_text() {
        register("marker-9f8e7d6c");
        register("ab");
        register_url_password("postgres://u:pw-marker-1@h/db");
        assert_eq!(
            text("echo marker-9f8e7d6c and pw-marker-1 and ab"),
            "echo [redacted] and [redacted] and ab"
        );
    }
}
