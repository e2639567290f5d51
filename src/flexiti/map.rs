//! From wire rows to the domain's Flexiti side.
//!
//! Invariants: a capture appears once however many dates, pages or files listed it (its
//! returns are the union of every listing's returns, by `return_id`); each capture is a `Sale`
//! record and each of its returns a `Return` record with its own date and id; a record's store
//! is its authorization's `external_location_id`, else the capture's, and its reference the
//! capture's, else the authorization's. Authorizations listed on a fetched date are kept apart
//! from those only looked up, because only the former feed the `not_captured` check, and of
//! those only the ones no capture refers to are kept.
//!
//! Amounts keep their sign: a capture, return or listed authorization that breaks the contract
//! (negative or non-numeric amount, unparseable date, and for captures and returns no reference
//! even after the authorization's) becomes an [`InvalidRecord`] naming where it was read, never
//! a record (see `docs/RULES-invalid-records.md`). The checks are a sign test and an emptiness
//! test per row; rows that pass them cost nothing more.

//!
//! Files: `flawed` (rows that break the contract, and the invalid records made of them),
//! `auths` (authorizations by id), `order` (duplicates dropped, records ordered by time),
//! `runs` (rows kept in the runs they were read in, addressed as one vector).

mod auths;
mod flawed;
mod order;
mod runs;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{Amount, AuthorizationInfo, Breach, FlexitiRecord, FlexitiSide, Labels, Text};

use super::wire::{WireAuthorization, WireCapture};
use auths::{AuthEntry, Authorizations, Resolved};
use flawed::{Flawed, FlawedKind, checked_amount, given, invalid_records};
use order::{keep_first_listing, sort_by_time};
use runs::Runs;

/// Where rows were read: a list call and its page, or a file. Shared by every row of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The call (`GET /v2.5.1/client-id/{client_id}/captures`) or the file's path.
    pub endpoint: String,
    /// The call's parameters; empty for a file.
    pub parameters: String,
    pub utc_date: Option<NaiveDate>,
}

impl Source {
    pub fn file(path: &std::path::Path) -> Arc<Source> {
        Arc::new(Source {
            endpoint: path.display().to_string(),
            ..Source::default()
        })
    }

    pub fn call(endpoint: &str, parameters: String, utc_date: Option<NaiveDate>) -> Arc<Source> {
        Arc::new(Source {
            endpoint: endpoint.to_string(),
            parameters,
            utc_date,
        })
    }
}

/// Everything read so far. Captures become records as they are read (a large run reads
/// millions, and holding the wire rows as well doubled the memory); the authorization's part
/// (its store, and its reference where the capture has none) is filled in by
/// [`Collected::into_side`], once every authorization is known.
#[derive(Debug, Default)]
pub struct Collected {
    /// In the order read, duplicates included (resolved by [`Collected::into_side`]).
    records: Runs<FlexitiRecord>,
    captures: usize,
    authorizations: Authorizations,
    /// Rows that break the contract (none of them is among `records`).
    flawed: Vec<Flawed>,
    /// Records read without a reference of their own: invalid unless their authorization
    /// gives them one (decided by [`Collected::into_side`]).
    unreferenced: Vec<Flawed>,
    /// The stores met last (`Labels`): a store per row, few distinct ones.
    labels: Labels,
}

impl Collected {
    /// Room for about `records` more records, so that a large read does not copy them as the
    /// vector grows (room never written costs address space, not memory).
    pub fn reserve_records(&mut self, records: usize) {
        self.records.reserve(records);
    }

    /// Room for about `authorizations` more authorization rows: grown step by step, the vector
    /// would hold its old and new copies at once. A hash table touches all the room it has,
    /// so ask for an estimate, not a bound.
    pub fn reserve_authorizations(&mut self, authorizations: usize) {
        self.authorizations.reserve(authorizations);
    }

    /// Captures read so far (a capture listed twice counts twice).
    pub fn captures_read(&self) -> usize {
        self.captures
    }

    /// Records read so far (captures plus returns; a capture listed twice counts twice until
    /// [`Collected::into_side`]).
    pub fn records_read(&self) -> usize {
        self.records.len()
    }

    /// Authorization rows read so far, listed or looked up (one listed twice counts twice).
    pub fn authorizations_read(&self) -> usize {
        self.authorizations.len()
    }

    /// Authorizations listed on a fetched date (or in an offline file), read from `source`.
    pub fn add_authorizations(
        &mut self,
        source: &Arc<Source>,
        rows: impl IntoIterator<Item = WireAuthorization>,
    ) {
        for a in rows {
            self.check_authorization(source, &a);
            self.add_authorization(a, true);
        }
    }

    /// An authorization obtained through `/authorization/{id}` only. Its amount and date are
    /// never used, so they are not checked.
    pub fn add_looked_up(&mut self, a: WireAuthorization) {
        self.add_authorization(a, false);
    }

    fn add_authorization(&mut self, a: WireAuthorization, listed: bool) {
        let store = a
            .external_location_id
            .as_deref()
            .map(|s| self.labels.get(s));
        self.authorizations.add(AuthEntry::new(a, listed, store));
    }

    /// A listed authorization's amount and creation date (null or absent are allowed: the
    /// `not_captured` check then skips it).
    fn check_authorization(&mut self, source: &Arc<Source>, a: &WireAuthorization) {
        let amount = match &a.amount {
            Ok(Some(amount)) => checked_amount(Ok(*amount)).err(),
            Ok(None) => None,
            Err(raw) => Some((Breach::BadAmount, raw.clone())),
        };
        let date = a
            .creation_date
            .as_ref()
            .err()
            .map(|raw| (Breach::BadDate, raw.clone()));
        for (breach, value) in amount.into_iter().chain(date) {
            self.flawed.push(Flawed {
                source: source.clone(),
                kind: FlawedKind::Authorization,
                id: a.authorization_id,
                capture_id: 0,
                authorization_id: a.authorization_id,
                reference: given(a.reference.clone()).unwrap_or_default(),
                breach,
                value,
            });
        }
    }

    /// Captures (with their returns) read from `source`.
    pub fn add_captures(
        &mut self,
        source: &Arc<Source>,
        rows: impl IntoIterator<Item = WireCapture>,
    ) {
        for c in rows {
            self.add_capture(source, c);
        }
    }

    fn add_capture(&mut self, source: &Arc<Source>, c: WireCapture) {
        let reference = given(c.reference);
        let flaw = |kind, id, reference: &Option<Text>, (breach, value)| Flawed {
            source: source.clone(),
            kind,
            id,
            capture_id: c.capture_id,
            authorization_id: c.authorization_id,
            reference: reference.clone().unwrap_or_default(),
            breach,
            value,
        };
        let amount = checked_amount(c.amount);
        let date = c.date.map_err(|raw| (Breach::BadDate, raw));
        let store = c
            .external_location_id
            .as_deref()
            .map(|s| self.labels.get(s));
        self.captures += 1;
        for r in c.returns {
            let own = given(r.reference).or_else(|| reference.clone());
            let (amount, at) = (checked_amount(r.amount), r.date);
            let at = at.map_err(|raw| (Breach::BadDate, raw));
            let (Ok(amount), Ok(at)) = (&amount, &at) else {
                let flaws = amount.err().into_iter().chain(at.err());
                for f in flaws {
                    self.flawed
                        .push(flaw(FlawedKind::Return, r.return_id, &own, f));
                }
                continue;
            };
            if own.is_none() {
                let missing = (Breach::NoReference, "\"\"".into());
                self.unreferenced
                    .push(flaw(FlawedKind::Return, r.return_id, &own, missing));
            }
            self.records.push(FlexitiRecord::new(
                c.capture_id,
                Some(r.return_id),
                c.authorization_id,
                own.unwrap_or_default(),
                *amount,
                *at,
                store,
            ));
        }
        if amount.is_err() || date.is_err() {
            for f in amount.err().into_iter().chain(date.err()) {
                self.flawed
                    .push(flaw(FlawedKind::Capture, c.capture_id, &reference, f));
            }
            return;
        }
        if reference.is_none() {
            let missing = (Breach::NoReference, "\"\"".into());
            self.unreferenced
                .push(flaw(FlawedKind::Capture, c.capture_id, &reference, missing));
        }
        self.records.push(FlexitiRecord::new(
            c.capture_id,
            None,
            c.authorization_id,
            reference.unwrap_or_default(),
            *amount.as_ref().unwrap_or(&Amount::ZERO),
            *date.as_ref().unwrap_or(&DateTime::<Utc>::UNIX_EPOCH),
            store,
        ));
    }

    pub fn merge(&mut self, other: Collected) {
        // Nothing here yet and no room reserved: take the other's part whole.
        if self.records.capacity() == 0 && self.authorizations.len() == 0 {
            *self = other;
            return;
        }
        self.authorizations.append(other.authorizations);
        self.records.append(other.records);
        self.captures += other.captures;
        self.flawed.extend(other.flawed);
        self.unreferenced.extend(other.unreferenced);
    }

    /// Authorization ids referenced by a capture but neither listed nor looked up yet, sorted.
    pub fn missing_authorizations(&self) -> Vec<u64> {
        let known = self.authorizations.ids();
        let mut ids: Vec<u64> = self.records.iter().map(|r| r.authorization_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| known.binary_search(id).is_err());
        ids
    }

    /// The domain side, records ordered by time then record id. `incomplete_days` is left empty:
    /// completeness is the fetch's business.
    pub fn into_side(self) -> FlexitiSide {
        let Collected {
            mut records,
            authorizations: auths,
            flawed,
            unreferenced,
            ..
        } = self;
        let mut clock = crate::telemetry::Steps::start();
        // The two sorts are independent: one on each core when the side is large.
        let mut auths = if records.len() < crate::sorting::PARALLEL_FROM {
            keep_first_listing(&mut records);
            Resolved::new(auths)
        } else {
            std::thread::scope(|scope| {
                let resolving = scope.spawn(|| Resolved::new(auths));
                keep_first_listing(&mut records);
                resolving
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        };
        clock.step("dedupe");
        auths.link(&mut records);
        clock.step("link");

        // Listed authorizations that no capture refers to.
        let mut listed_authorizations = 0u64;
        let mut authorizations: Vec<AuthorizationInfo> = Vec::new();
        for a in auths.iter() {
            if !a.listed {
                continue;
            }
            listed_authorizations += 1;
            if a.captured {
                continue;
            }
            let (Some(reference), Some(created_at)) = (&a.reference, a.created_at) else {
                continue;
            };
            authorizations.push(AuthorizationInfo {
                authorization_id: a.id,
                reference: reference.clone(),
                created_at,
                amount: a.amount,
                store: a.store.map(|s| Text::from(s.as_str())),
            });
        }
        let invalid = invalid_records(&mut records, flawed, unreferenced, &auths);
        drop(auths);
        authorizations.sort_by_key(|a| (a.created_at, a.authorization_id));
        clock.step("uncaptured");
        let records = sort_by_time(records);
        clock.step("order");
        tracing::info!(steps = %clock, records = records.len(), "built the Flexiti side");
        FlexitiSide {
            records,
            authorizations,
            listed_authorizations,
            incomplete_days: Default::default(),
            invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, Kind};

    fn capture(json: &str) -> WireCapture {
        serde_json::from_str(json).expect("capture parses")
    }

    #[test]
    fn a_capture_listed_twice_is_one_sale_and_its_returns_are_unioned() {
        let mut c = Collected::default();
        c.add_captures(&Source::default().into(), [capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":"10.00","external_location_id":"cap-store"}"#,
        )]);
        c.add_captures(&Source::default().into(), [capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":"10.00","returns":[{"return_id":5,"date":"2026-11-25T10:00:00Z","amount":2.5}]}"#,
        )]);
        c.add_authorizations(
            &Source::default().into(),
            [serde_json::from_str(
                r#"{"authorization_id":9,"reference":"A","account_number":"20076677",
                "external_location_id":"auth-store","transaction_type":"promotional_purchase",
                "creation_date":"2026-11-23T17:59:00Z","amount":10}"#,
            )
            .expect("auth parses")],
        );
        assert!(c.missing_authorizations().is_empty());
        let side = c.into_side();
        assert_eq!(side.records.len(), 2);
        let (sale, ret) = (&side.records[0], &side.records[1]);
        assert_eq!((sale.kind(), ret.kind()), (Kind::Sale, Kind::Return));
        assert_eq!(ret.reference, "A");
        assert_eq!(ret.amount, Amount::from_cents(250));
        assert_eq!(ret.record_id(), 5);
        assert_eq!(sale.store.as_deref(), Some("auth-store"));
        // The authorization is captured: counted, not kept for the not_captured check.
        assert_eq!(side.listed_authorizations, 1);
        assert!(side.authorizations.is_empty());
    }

    #[test]
    fn an_unknown_authorization_leaves_the_capture_store_and_is_reported_missing() {
        let mut c = Collected::default();
        c.add_captures(&Source::default().into(), [capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":1,"external_location_id":"cap-store"}"#,
        )]);
        assert_eq!(c.missing_authorizations(), vec![9]);
        let side = c.into_side();
        assert_eq!(side.records[0].store.as_deref(), Some("cap-store"));
        assert_eq!(side.listed_authorizations, 0);
    }
}
