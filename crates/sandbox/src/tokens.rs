//! Access and refresh tokens of the sandbox: random, held in memory, each tied to the client id
//! that asked for it. A refresh token works only while its access token is still valid, as the
//! contract says.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the token endpoint announces, whatever the real lifetime (see `Faults::token_ttl_secs`).
pub(crate) const ANNOUNCED_TTL_SECS: u64 = 1200;

#[derive(Debug)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid(String),
    Expired,
    Unknown,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    expires_at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    access: HashMap<String, Grant>,
    /// refresh token → the access token it belongs to.
    refresh: HashMap<String, String>,
    /// Every token issued, access and refresh, for tests that look for them where they must
    /// not be.
    issued: Vec<String>,
}

impl TokenStore {
    pub fn issue(&mut self, client_id: &str, ttl: Option<Duration>) -> Issued {
        let lifetime = ttl.unwrap_or(Duration::from_secs(ANNOUNCED_TTL_SECS));
        let issued = Issued {
            access_token: random_token(),
            refresh_token: random_token(),
        };
        self.access.insert(
            issued.access_token.clone(),
            Grant {
                client_id: client_id.to_string(),
                expires_at: Instant::now() + lifetime,
            },
        );
        self.refresh
            .insert(issued.refresh_token.clone(), issued.access_token.clone());
        self.issued.push(issued.access_token.clone());
        self.issued.push(issued.refresh_token.clone());
        issued
    }

    pub fn issued(&self) -> &[String] {
        &self.issued
    }

    /// A new pair for a refresh token whose access token is still valid; the old pair is spent.
    pub fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        ttl: Option<Duration>,
    ) -> Option<Issued> {
        let access = self.refresh.get(refresh_token)?;
        if self.check(access) != TokenCheck::Valid(client_id.to_string()) {
            return None;
        }
        let access = self.refresh.remove(refresh_token)?;
        self.access.remove(&access);
        Some(self.issue(client_id, ttl))
    }

    pub fn check(&self, access_token: &str) -> TokenCheck {
        match self.access.get(access_token) {
            None => TokenCheck::Unknown,
            Some(grant) if Instant::now() >= grant.expires_at => TokenCheck::Expired,
            Some(grant) => TokenCheck::Valid(grant.client_id.clone()),
        }
    }
}

fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_works_once_and_only_before_expiry() {
        let mut store = TokenStore::default();
        let first = store.issue("acme", None);
        assert_eq!(
            store.check(&first.access_token),
            TokenCheck::Valid("acme".into())
        );
        let second = store
            .refresh("acme", &first.refresh_token, None)
            .expect("valid refresh");
        assert_eq!(store.check(&first.access_token), TokenCheck::Unknown);
        assert!(store.refresh("acme", &first.refresh_token, None).is_none());
        assert!(
            store
                .refresh("other", &second.refresh_token, None)
                .is_none()
        );

        let short = store.issue("acme", Some(Duration::ZERO));
        assert_eq!(store.check(&short.access_token), TokenCheck::Expired);
        assert!(store.refresh("acme", &short.refresh_token, None).is_none());
    }
}
