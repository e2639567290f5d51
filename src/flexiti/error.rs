//! What can go wrong talking to Flexiti, classified the way the retry policy branches:
//! transport glitches, unparseable bodies, 429 and 5xx are retried; other 4xx are answers.

use std::time::Duration;

/// One failed attempt (or the final failure) of a Flexiti call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlexitiError {
    #[error("{0}")]
    Config(String),
    /// Connection refused or reset, timeout, body cut short.
    #[error("network error: {0}")]
    Transport(String),
    /// A success status with a body that is not the expected JSON.
    #[error("HTTP {status} with an unparseable body ({reason}): {excerpt}")]
    Unparseable {
        status: u16,
        reason: String,
        excerpt: String,
    },
    #[error("HTTP 429 rate limited{}", describe(code, message))]
    RateLimited {
        retry_after: Option<Duration>,
        code: Option<String>,
        message: String,
    },
    #[error("HTTP {status} server error{}", describe(code, message))]
    Server {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("HTTP 401 unauthorized{}", describe(code, message))]
    Unauthorized {
        code: Option<String>,
        message: String,
    },
    /// Any other 4xx, including 409 business-rule answers: never retried.
    #[error("HTTP {status} rejected{}", describe(code, message))]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The call could not be made because no token could be obtained.
    #[error("cannot obtain a token: {0}")]
    Token(Box<FlexitiError>),
    /// An answer the client will not use: a redirect, a body over the size cap, a token reply
    /// or a page that cannot be right. Never retried: asking again gets the same answer.
    #[error("{}{reason}", status.map(|s| format!("HTTP {s} ")).unwrap_or_default())]
    Refused { status: Option<u16>, reason: String },
}

fn describe(code: &Option<String>, message: &str) -> String {
    match (code.as_deref(), message.is_empty()) {
        (Some(c), false) => format!(" {c}: {message}"),
        (Some(c), true) => format!(" {c}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

impl FlexitiError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FlexitiError::Transport(_)
                | FlexitiError::Unparseable { .. }
                | FlexitiError::RateLimited { .. }
                | FlexitiError::Server { .. }
        )
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            FlexitiError::Unparseable { status, .. }
            | FlexitiError::Server { status, .. }
            | FlexitiError::Rejected { status, .. } => Some(*status),
            FlexitiError::RateLimited { .. } => Some(429),
            FlexitiError::Unauthorized { .. } => Some(401),
            FlexitiError::Token(inner) => inner.http_status(),
            FlexitiError::Refused { status, .. } => *status,
            FlexitiError::Config(_) | FlexitiError::Transport(_) => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            FlexitiError::RateLimited { code, .. }
            | FlexitiError::Server { code, .. }
            | FlexitiError::Unauthorized { code, .. }
            | FlexitiError::Rejected { code, .. } => code.as_deref(),
            FlexitiError::Token(inner) => inner.error_code(),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlexitiError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A 401 that asks for a new token (`invalid_token`, or no code at all).
    pub fn is_invalid_token(&self) -> bool {
        matches!(self, FlexitiError::Unauthorized { code, .. }
            if code.as_deref().is_none_or(|c| c == "invalid_token"))
    }

    /// Removes every occurrence of `secret` from the texts this error carries, in case a server
    /// or proxy echoed the credentials back.
    pub fn redacted(self, secret: &str) -> FlexitiError {
        let r = |text: String| redact(&text, secret);
        match self {
            FlexitiError::Config(m) => FlexitiError::Config(r(m)),
            FlexitiError::Transport(m) => FlexitiError::Transport(r(m)),
            FlexitiError::Unparseable {
                status,
                reason,
                excerpt,
            } => FlexitiError::Unparseable {
                status,
                reason: r(reason),
                excerpt: r(excerpt),
            },
            FlexitiError::RateLimited {
                retry_after,
                code,
                message,
            } => FlexitiError::RateLimited {
                retry_after,
                code: code.map(r),
                message: r(message),
            },
            FlexitiError::Server {
                status,
                code,
                message,
            } => FlexitiError::Server {
                status,
                code: code.map(r),
                message: r(message),
            },
            FlexitiError::Unauthorized { code, message } => FlexitiError::Unauthorized {
                code: code.map(r),
                message: r(message),
            },
            FlexitiError::Rejected {
                status,
                code,
                message,
            } => FlexitiError::Rejected {
                status,
                code: code.map(r),
                message: r(message),
            },
            FlexitiError::Token(inner) => FlexitiError::Token(Box::new(inner.redacted(secret))),
            FlexitiError::Refused { status, reason } => FlexitiError::Refused {
                status,
                reason: r(reason),
            },
        }
    }
}

/// `text` without `secret`, nor anything [`crate::redact::text`] removes.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        crate::redact::text(text)
    } else {
        crate::redact::text(&text.replace(secret, "[redacted]"))
    }
}

/// At most 200 characters of a body, for a failed call, redacted: a token reply that does not
/// parse still carries its tokens, a list page cut short its account numbers.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.chars().nth(200).is_none() {
        return crate::redact::text(&text);
    }
    let mut out: String = text.chars().take(199).collect();
    out = crate::redact::text(&out);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_glitches_are_retryable() {
        assert!(FlexitiError::Transport("reset".into()).is_retryable());
        let conflict = FlexitiError::Rejected {
            status: 409,
            code: Some("wrong_inputs".into()),
            message: String::new(),
        };
        assert!(!conflict.is_retryable());
        assert_eq!(conflict.to_string(), "HTTP 409 rejected wrong_inputs");
    }

    #[test]
    fn excerpts_stop_at_200_characters_and_secrets_are_redacted() {
        let body = "é".repeat(300);
        assert_eq!(excerpt(body.as_bytes()).chars().count(), 200);
        let e = FlexitiError::Rejected {
            status: 400,
            code: None,
            message: "bad s3cr3t".into(),
        };
        assert_eq!(
            e.redacted("s3cr3t").to_string(),
            "HTTP 400 rejected: bad [redacted]"
        );
    }
}
