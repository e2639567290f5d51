//! The token endpoint's reply, checked before it is trusted.
//!
//! The contract's reply is `{"token_type":"bearer","access_token":…,"expires_in":1200,
//! "refresh_token":…}`. A reply of any other shape (not JSON, not an object, no usable access
//! token, a life that is not a whole number of seconds between one second and a year) is refused
//! with a reason that names the field but never echoes a token. An unusable refresh token is
//! dropped: a new client-credentials token replaces it when needed.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

/// The life assumed when the reply announces none (the contract's examples all say 1200).
pub const DEFAULT_TOKEN_LIFE_SECS: u64 = 1200;
/// The longest life believed; anything longer is a broken or hostile reply.
pub const MAX_TOKEN_LIFE_SECS: u64 = 366 * 24 * 3600;
/// Tokens are header values: visible ASCII, and not absurdly long.
const MAX_TOKEN_LEN: usize = 8192;

/// A token reply that passed every check.
pub struct TokenReply {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub life: Duration,
}

impl std::fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReply")
            .field("access", &"[redacted]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("life", &self.life)
            .finish()
    }
}

/// Reads a token reply; the error says what is wrong with it, without any token in it.
pub fn parse_token_reply(body: &[u8]) -> Result<TokenReply, String> {
    // Parsed as a value first: serde's type errors would quote the text they met.
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the reply is not JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err(format!(
            "the reply is {} instead of an object",
            kind(&value)
        ));
    };
    let access = match map.get("access_token") {
        None | Some(Value::Null) => return Err("the reply has no access_token".into()),
        Some(Value::String(token)) => {
            check_token(token).map_err(|why| format!("access_token {why}"))?;
            SecretString::from(token.as_str())
        }
        Some(other) => return Err(format!("access_token is {}, not a string", kind(other))),
    };
    match map.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(t)) => return Err(format!("token_type {} is not bearer", shown(t))),
        Some(other) => return Err(format!("token_type is {}, not a string", kind(other))),
    }
    let life = life(map.get("expires_in"))?;
    let refresh = match map.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) if check_token(token).is_ok() => {
            Some(SecretString::from(token.as_str()))
        }
        Some(_) => {
            tracing::warn!("the token reply's refresh_token is unusable: ignored");
            None
        }
    };
    Ok(TokenReply {
        access,
        refresh,
        life,
    })
}

fn life(value: Option<&Value>) -> Result<Duration, String> {
    let secs = match value {
        None | Some(Value::Null) => return Ok(Duration::from_secs(DEFAULT_TOKEN_LIFE_SECS)),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| n.to_string()),
        Some(Value::String(text)) => text.trim().parse::<u64>().map_err(|_| shown(text)),
        Some(other) => {
            return Err(format!("expires_in is {}, not a number", kind(other)));
        }
    };
    match secs {
        Ok(secs) if (1..=MAX_TOKEN_LIFE_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        Ok(secs) => Err(out_of_range(&secs.to_string())),
        Err(text) => Err(out_of_range(&text)),
    }
}

fn out_of_range(text: &str) -> String {
    format!("expires_in {text} is not a whole number of seconds from 1 to {MAX_TOKEN_LIFE_SECS}")
}

fn check_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("is empty");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err("is longer than 8192 characters");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("holds characters other than visible ASCII");
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short, escaped rendering of a value from the server (never a token).
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().nth(40).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn refused(body: &str) -> String {
        parse_token_reply(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn the_contract_reply_and_its_tolerated_spellings_are_read() {
        let reply = parse_token_reply(
            br#"{"token_type":"bearer","access_token":"3d8f","expires_in":1200,"refresh_token":"36e0"}"#,
        )
        .expect("contract reply");
        assert_eq!(reply.access.expose_secret(), "3d8f");
        assert_eq!(
            reply.refresh.as_ref().map(|r| r.expose_secret()),
            Some("36e0")
        );
        assert_eq!(reply.life, Duration::from_secs(1200));
        let reply = parse_token_reply(
            br#"{"access_token":"a","expires_in":" 60 ","token_type":"Bearer","refresh_token":7}"#,
        )
        .expect("string life, odd refresh token");
        assert_eq!(reply.life, Duration::from_secs(60));
        assert!(reply.refresh.is_none());
        let reply = parse_token_reply(br#"{"access_token":"a","expires_in":null}"#).expect("null");
        assert_eq!(reply.life, Duration::from_secs(DEFAULT_TOKEN_LIFE_SECS));
        assert!(!format!("{reply:?}").contains("\"a\""));
    }

    #[test]
    fn a_reply_of_any_other_shape_is_refused_naming_the_field_but_no_token() {
        for (body, says) in [
            (
                r#"{"access_token":"Zq9x","expires_in":18446744073709551615}"#,
                "expires_in 18446744073709551615 is not",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":18446744073709551616}"#,
                "is not a whole number",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":-5}"#,
                "expires_in -5 is not",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":0}"#,
                "expires_in 0 is not",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":1.5}"#,
                "expires_in 1.5 is not",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":"soon"}"#,
                "expires_in \"soon\" is not",
            ),
            (
                r#"{"access_token":"Zq9x","expires_in":[1]}"#,
                "expires_in is an array",
            ),
            (r#"{"expires_in":1200}"#, "no access_token"),
            (r#"{"access_token":""}"#, "access_token is empty"),
            (r#"{"access_token":"Zq9x Zq9x"}"#, "visible ASCII"),
            (r#"{"access_token":12345}"#, "access_token is a number"),
            (
                r#"{"access_token":"Zq9x","token_type":"mac"}"#,
                "token_type \"mac\"",
            ),
            (r#""Zq9x""#, "a string instead of an object"),
            ("[]", "an array instead"),
            ("<html>Zq9x", "not JSON"),
            ("", "not JSON"),
        ] {
            let why = refused(body);
            assert!(why.contains(says), "{body}: {why}");
            assert!(!why.contains("Zq9x"), "{body}: {why}");
        }
        let why = parse_token_reply(b"{\"access_token\":\"Zq9x\xff\"}").expect_err("bad utf-8");
        assert!(why.contains("not JSON"), "{why}");
        let long = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(MAX_TOKEN_LEN + 1));
        assert!(refused(&long).contains("longer than"));
    }
}
