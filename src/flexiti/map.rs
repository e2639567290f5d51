//! From wire rows to the domain's Flexiti side.
//!
//! Invariants: a capture appears once however many dates, pages or files listed it (its
//! returns are the union of every listing's returns, by `return_id`); each capture is a `Sale`
//! record and each of its returns a `Return` record with its own date and id; a record's store
//! is its authorization's `external_location_id`, else the capture's; authorization details
//! (type, status, masked account) are filled only when the authorization is known. Authorizations
//! listed on a fetched date are kept apart from those only looked up, because only the former
//! feed the `not_captured` check.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{AuthorizationInfo, FlexitiRecord, FlexitiSide, Kind, mask_account};

use super::wire::{WireAuthorization, WireCapture};

/// Everything read so far, de-duplicated by id.
#[derive(Debug, Default)]
pub struct Collected {
    /// Authorizations listed on a fetched date (or in an offline file).
    pub listed: HashMap<u64, WireAuthorization>,
    /// Authorizations obtained through `/authorization/{id}` only.
    pub looked_up: HashMap<u64, WireAuthorization>,
    pub captures: HashMap<u64, WireCapture>,
}

impl Collected {
    pub fn add_authorizations(&mut self, rows: impl IntoIterator<Item = WireAuthorization>) {
        // Sized up front: growing a map of a million rows moves every row at each doubling.
        let rows = rows.into_iter();
        self.listed.reserve(rows.size_hint().0);
        for a in rows {
            self.listed.entry(a.authorization_id).or_insert(a);
        }
    }

    pub fn add_captures(&mut self, rows: impl IntoIterator<Item = WireCapture>) {
        let rows = rows.into_iter();
        self.captures.reserve(rows.size_hint().0);
        for c in rows {
            match self.captures.get_mut(&c.capture_id) {
                None => {
                    self.captures.insert(c.capture_id, c);
                }
                Some(known) => {
                    for r in c.returns {
                        if !known.returns.iter().any(|k| k.return_id == r.return_id) {
                            known.returns.push(r);
                        }
                    }
                }
            }
        }
    }

    pub fn merge(&mut self, other: Collected) {
        // The common case when gathering parts: nothing here yet, so take the other's maps
        // whole instead of re-inserting every row.
        if self.listed.is_empty() && self.looked_up.is_empty() && self.captures.is_empty() {
            *self = other;
            return;
        }
        for (id, a) in other.listed {
            self.listed.entry(id).or_insert(a);
        }
        for (id, a) in other.looked_up {
            self.looked_up.entry(id).or_insert(a);
        }
        self.add_captures(other.captures.into_values());
    }

    /// Authorization ids referenced by a capture but neither listed nor looked up yet, sorted.
    pub fn missing_authorizations(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .captures
            .values()
            .map(|c| c.authorization_id)
            .filter(|id| !self.listed.contains_key(id) && !self.looked_up.contains_key(id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn authorization(&self, id: u64) -> Option<&WireAuthorization> {
        self.listed.get(&id).or_else(|| self.looked_up.get(&id))
    }

    /// The domain side, records ordered by time then record id. `incomplete_days` is left empty:
    /// completeness is the fetch's business.
    pub fn into_side(self) -> FlexitiSide {
        let mut records = Vec::with_capacity(self.captures.len());
        for c in self.captures.values() {
            let auth = self.authorization(c.authorization_id);
            let store = auth
                .and_then(|a| a.external_location_id.clone())
                .or_else(|| c.external_location_id.clone());
            let capture_reference = c
                .reference
                .as_ref()
                .or_else(|| auth.and_then(|a| a.reference.as_ref()));
            let base = FlexitiRecord {
                kind: Kind::Sale,
                reference: capture_reference.cloned().unwrap_or_default(),
                amount: c.amount.abs(),
                at: c.date,
                capture_id: c.capture_id,
                return_id: None,
                authorization_id: c.authorization_id,
                store,
                transaction_type: auth.and_then(|a| a.transaction_type.clone()),
                authorization_status: auth.and_then(|a| a.authorization_status.clone()),
                account_masked: auth.and_then(|a| a.account_number.as_deref().map(mask_account)),
            };
            for r in &c.returns {
                records.push(FlexitiRecord {
                    kind: Kind::Return,
                    reference: r
                        .reference
                        .as_ref()
                        .or(capture_reference)
                        .cloned()
                        .unwrap_or_default(),
                    amount: r.amount.abs(),
                    at: r.date,
                    return_id: Some(r.return_id),
                    ..base.clone()
                });
            }
            records.push(base);
        }
        let records = sorted_by_time(records);

        let by_id: BTreeMap<u64, &WireAuthorization> =
            self.listed.iter().map(|(id, a)| (*id, a)).collect();
        let mut authorizations: Vec<AuthorizationInfo> = by_id
            .values()
            .filter_map(|a| {
                Some(AuthorizationInfo {
                    authorization_id: a.authorization_id,
                    reference: a.reference.clone()?,
                    created_at: a.creation_date?,
                    amount: a.amount.unwrap_or_default().abs(),
                    status: a.authorization_status.clone(),
                    transaction_type: a.transaction_type.clone(),
                    store: a.external_location_id.clone(),
                    account_masked: a.account_number.as_deref().map(mask_account),
                })
            })
            .collect();
        authorizations.sort_by_key(|a| (a.created_at, a.authorization_id));
        FlexitiSide {
            records,
            authorizations,
            incomplete_days: Default::default(),
        }
    }
}

/// Records ordered by time, record id and kind (a stable sort). The order is found on small
/// keys and the records are moved once: sorting the records themselves moves each of them
/// many times.
fn sorted_by_time(records: Vec<FlexitiRecord>) -> Vec<FlexitiRecord> {
    let mut order: Vec<(chrono::DateTime<chrono::Utc>, u64, Kind, usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.at, r.record_id(), r.kind, i))
        .collect();
    // The position makes every key distinct, so an unstable sort gives the stable order.
    order.sort_unstable();
    let mut slots: Vec<Option<FlexitiRecord>> = records.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, _, _, i)| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Amount;

    fn capture(json: &str) -> WireCapture {
        serde_json::from_str(json).expect("capture parses")
    }

    #[test]
    fn a_capture_listed_twice_is_one_sale_and_its_returns_are_unioned() {
        let mut c = Collected::default();
        c.add_captures([capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":"10.00","external_location_id":"cap-store"}"#,
        )]);
        c.add_captures([capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":"10.00","returns":[{"return_id":5,"date":"2026-11-25T10:00:00Z","amount":2.5}]}"#,
        )]);
        c.add_authorizations([serde_json::from_str(
            r#"{"authorization_id":9,"reference":"A","account_number":"20076677",
                "external_location_id":"auth-store","transaction_type":"promotional_purchase",
                "creation_date":"2026-11-23T17:59:00Z","amount":10}"#,
        )
        .expect("auth parses")]);
        assert!(c.missing_authorizations().is_empty());
        let side = c.into_side();
        assert_eq!(side.records.len(), 2);
        let (sale, ret) = (&side.records[0], &side.records[1]);
        assert_eq!((sale.kind, ret.kind), (Kind::Sale, Kind::Return));
        assert_eq!(ret.reference, "A");
        assert_eq!(ret.amount, Amount::from_cents(250));
        assert_eq!(ret.record_id(), 5);
        assert_eq!(sale.store.as_deref(), Some("auth-store"));
        assert_eq!(sale.account_masked.as_deref(), Some("****6677"));
        assert_eq!(side.authorizations.len(), 1);
    }

    #[test]
    fn an_unknown_authorization_leaves_the_capture_store_and_is_reported_missing() {
        let mut c = Collected::default();
        c.add_captures([capture(
            r#"{"capture_id":1,"authorization_id":9,"reference":"A","date":"2026-11-23T18:00:00Z",
                "amount":1,"external_location_id":"cap-store"}"#,
        )]);
        assert_eq!(c.missing_authorizations(), vec![9]);
        let side = c.into_side();
        assert_eq!(side.records[0].store.as_deref(), Some("cap-store"));
        assert_eq!(side.records[0].transaction_type, None);
    }
}
