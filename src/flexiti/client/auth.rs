//! The client's token: asked for with the client credentials, refreshed when less than two
//! minutes remain (with the refresh token when there is one), forgotten after a 401
//! `invalid_token`. The reply is checked by `token.rs`; every token is registered with
//! [`crate::redact`] as it arrives.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::{FlexitiClient, Tries};
use crate::flexiti::error::{FlexitiError, excerpt};
use crate::flexiti::http::TOKEN_PATH;
use crate::flexiti::token::parse_token_reply;

const REFRESH_MARGIN: Duration = Duration::from_secs(120);

pub(super) struct Token {
    pub(super) access: SecretString,
    pub(super) refresh: Option<SecretString>,
    pub(super) expires_at: Instant,
}

impl FlexitiClient {
    pub(super) async fn bearer(&self) -> Result<SecretString, (FlexitiError, u32)> {
        let mut guard = self.token.lock().await;
        self.refresh_if_needed(&mut guard).await?;
        guard.as_ref().map(|t| t.access.clone()).ok_or_else(|| {
            (
                FlexitiError::Config("no token after a token request".into()),
                0,
            )
        })
    }

    pub(super) async fn forget_token(&self, used: &SecretString) {
        let mut guard = self.token.lock().await;
        if guard
            .as_ref()
            .is_some_and(|t| t.access.expose_secret() == used.expose_secret())
        {
            *guard = None;
        }
    }

    pub(super) async fn refresh_if_needed(
        &self,
        slot: &mut Option<Token>,
    ) -> Result<(), (FlexitiError, u32)> {
        let now = Instant::now();
        match slot.as_ref() {
            Some(t) if t.expires_at > now + REFRESH_MARGIN => return Ok(()),
            Some(Token {
                refresh: Some(refresh),
                expires_at,
                ..
            }) if *expires_at > now => {
                let refresh = refresh.clone();
                match self.request_token(Some(&refresh)).await {
                    Ok(token) => {
                        *slot = Some(token);
                        return Ok(());
                    }
                    Err((error, _)) => {
                        tracing::debug!(%error, "token refresh failed, asking for a new token");
                    }
                }
            }
            _ => {}
        }
        *slot = Some(self.request_token(None).await?);
        Ok(())
    }

    /// POSTs the token form, with the same retry policy as any call. The reply is checked
    /// (`token`): a bad one is refused at once.
    async fn request_token(
        &self,
        refresh: Option<&SecretString>,
    ) -> Result<Token, (FlexitiError, u32)> {
        let url = format!("{}{TOKEN_PATH}", self.base);
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("client_secret", self.secret.expose_secret()),
            ("scope", "merchant"),
        ];
        match refresh {
            Some(r) => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", r.expose_secret()));
            }
            None => form.push(("grant_type", "client_credentials")),
        }
        let mut tries = Tries::default();
        loop {
            self.pace.wait().await;
            tries.attempts += 1;
            let request = self
                .http
                .post(&url)
                .form(&form)
                .header("x-reference-id", &self.x_reference_id);
            tracing::debug!(
                grant = if refresh.is_some() {
                    "refresh_token"
                } else {
                    "client_credentials"
                },
                "flexiti token request"
            );
            let reply = self.attempt(request).await.and_then(|(status, body)| {
                // A body that is not JSON at all is a glitch (a proxy's page, a cut reply) and
                // is retried like any unparseable body; JSON that breaks the contract is an
                // answer, refused at once.
                if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
                    return Err(FlexitiError::Unparseable {
                        status,
                        reason: "the token reply is not JSON".into(),
                        excerpt: excerpt(&body),
                    });
                }
                parse_token_reply(&body).map_err(|why| FlexitiError::Refused {
                    status: Some(status),
                    reason: format!("token reply refused: {why}"),
                })
            });
            match reply {
                Ok(reply) => {
                    crate::redact::register(reply.access.expose_secret());
                    if let Some(refresh) = &reply.refresh {
                        crate::redact::register(refresh.expose_secret());
                    }
                    let now = Instant::now();
                    return Ok(Token {
                        access: reply.access,
                        refresh: reply.refresh,
                        expires_at: now.checked_add(reply.life).unwrap_or(now),
                    });
                }
                Err(error) => match self.next_try(error, &mut tries) {
                    Ok(delay) => {
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(delay).await;
                    }
                    Err(error) => {
                        let error = error.redacted(self.secret.expose_secret());
                        return Err((error, tries.attempts));
                    }
                },
            }
        }
    }
}
