//! From wire rows to the domain's Flexiti side.
//!
//! Invariants: a capture appears once however many dates, pages or files listed it (its
//! returns are the union of every listing's returns, by `return_id`); each capture is a `Sale`
//! record and each of its returns a `Return` record with its own date and id; a record's store
//! is its authorization's `external_location_id`, else the capture's, and its reference the
//! capture's, else the authorization's. Authorizations listed on a fetched date are kept apart
//! from those only looked up, because only the former feed the `not_captured` check, and of
//! those only the ones no capture refers to are kept.

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::domain::{Amount, AuthorizationInfo, FlexitiRecord, FlexitiSide, Kind, Label, Text};

use super::wire::{WireAuthorization, WireCapture};

/// What the side needs of an authorization, held once per id.
#[derive(Debug)]
struct AuthEntry {
    /// Listed on a fetched date (else only looked up).
    listed: bool,
    /// Some record refers to it (set by [`Collected::into_side`]).
    captured: bool,
    store: Option<Label>,
    reference: Option<Text>,
    created_at: Option<DateTime<Utc>>,
    amount: Amount,
}

impl AuthEntry {
    fn new(a: WireAuthorization, listed: bool) -> Self {
        AuthEntry {
            listed,
            captured: false,
            store: a.external_location_id.as_deref().map(Label::new),
            reference: a.reference,
            created_at: a.creation_date,
            amount: a.amount.unwrap_or_default().abs(),
        }
    }
}

/// Authorizations by id: the entries in one vector and a small index (hash maps holding the
/// entries themselves took twice the memory at millions of rows).
#[derive(Debug, Default)]
struct Authorizations {
    entries: Vec<AuthEntry>,
    index: FxHashMap<u64, u32>,
}

impl Authorizations {
    /// The first listing wins, and a listing over a lookup.
    fn add(&mut self, id: u64, entry: AuthEntry) {
        match self.index.get(&id).map(|&i| i as usize) {
            None => {
                let Ok(i) = u32::try_from(self.entries.len()) else {
                    return;
                };
                self.index.insert(id, i);
                self.entries.push(entry);
            }
            Some(i) => {
                if let Some(known) = self.entries.get_mut(i)
                    && entry.listed
                    && !known.listed
                {
                    *known = entry;
                }
            }
        }
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut AuthEntry> {
        let i = *self.index.get(&id)? as usize;
        self.entries.get_mut(i)
    }

    fn contains(&self, id: u64) -> bool {
        self.index.contains_key(&id)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Everything read so far. Captures become records as they are read (a large run reads
/// millions, and holding the wire rows as well doubled the memory); the authorization's part
/// (its store, and its reference where the capture has none) is filled in by
/// [`Collected::into_side`], once every authorization is known.
#[derive(Debug, Default)]
pub struct Collected {
    /// In the order read, duplicates included (resolved by [`Collected::into_side`]).
    records: Vec<FlexitiRecord>,
    captures: usize,
    authorizations: Authorizations,
}

impl Collected {
    /// Room for about `records` more records, so that a large read does not copy them as the
    /// vector grows (room never written costs address space, not memory).
    pub fn reserve_records(&mut self, records: usize) {
        self.records.reserve(records);
    }

    /// Room for about `authorizations` more authorizations: grown step by step, the table
    /// would hold its old and new copies at once. A hash table touches all the room it has,
    /// so ask for an estimate, not a bound.
    pub fn reserve_authorizations(&mut self, authorizations: usize) {
        self.authorizations.entries.reserve(authorizations);
        self.authorizations.index.reserve(authorizations);
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

    /// Distinct authorizations read so far, listed or looked up.
    pub fn authorizations_read(&self) -> usize {
        self.authorizations.len()
    }

    /// Authorizations listed on a fetched date (or in an offline file).
    pub fn add_authorizations(&mut self, rows: impl IntoIterator<Item = WireAuthorization>) {
        for a in rows {
            self.add_authorization(a, true);
        }
    }

    /// An authorization obtained through `/authorization/{id}` only.
    pub fn add_looked_up(&mut self, a: WireAuthorization) {
        self.add_authorization(a, false);
    }

    fn add_authorization(&mut self, a: WireAuthorization, listed: bool) {
        let id = a.authorization_id;
        self.authorizations.add(id, AuthEntry::new(a, listed));
    }

    pub fn add_captures(&mut self, rows: impl IntoIterator<Item = WireCapture>) {
        for c in rows {
            self.add_capture(c);
        }
    }

    fn add_capture(&mut self, c: WireCapture) {
        let base = FlexitiRecord {
            kind: Kind::Sale,
            reference: c.reference.clone().unwrap_or_default(),
            amount: c.amount.abs(),
            at: c.date,
            capture_id: c.capture_id,
            return_id: None,
            authorization_id: c.authorization_id,
            store: c.external_location_id.as_deref().map(Label::new),
        };
        self.captures += 1;
        for r in c.returns {
            self.records.push(FlexitiRecord {
                kind: Kind::Return,
                reference: r.reference.unwrap_or_else(|| base.reference.clone()),
                amount: r.amount.abs(),
                at: r.date,
                return_id: Some(r.return_id),
                ..base.clone()
            });
        }
        self.records.push(base);
    }

    pub fn merge(&mut self, other: Collected) {
        // Nothing here yet and no room reserved: take the other's part whole.
        if self.records.capacity() == 0 && self.authorizations.len() == 0 {
            *self = other;
            return;
        }
        // Their entries in index order, so that each can be moved out of their vector.
        let theirs = other.authorizations;
        let mut ids: Vec<(u32, u64)> = theirs.index.into_iter().map(|(id, i)| (i, id)).collect();
        ids.sort_unstable();
        for ((_, id), entry) in ids.into_iter().zip(theirs.entries) {
            self.authorizations.add(id, entry);
        }
        self.records.extend(other.records);
        self.captures += other.captures;
    }

    /// Authorization ids referenced by a capture but neither listed nor looked up yet, sorted.
    pub fn missing_authorizations(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .records
            .iter()
            .map(|r| r.authorization_id)
            .filter(|id| !self.authorizations.contains(*id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The domain side, records ordered by time then record id. `incomplete_days` is left empty:
    /// completeness is the fetch's business.
    pub fn into_side(self) -> FlexitiSide {
        let Collected {
            mut records,
            authorizations: mut auths,
            ..
        } = self;
        keep_first_listing(&mut records);

        for r in &mut records {
            let Some(a) = auths.get_mut(r.authorization_id) else {
                continue;
            };
            a.captured = true;
            if let Some(store) = a.store {
                r.store = Some(store);
            }
            if r.reference.is_empty()
                && let Some(reference) = &a.reference
            {
                r.reference = reference.clone();
            }
        }

        // Listed authorizations that no capture refers to.
        let mut listed_authorizations = 0u64;
        let mut authorizations: Vec<AuthorizationInfo> = Vec::new();
        for (&id, &i) in &auths.index {
            let Some(a) = auths.entries.get(i as usize) else {
                continue;
            };
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
                authorization_id: id,
                reference: reference.clone(),
                created_at,
                amount: a.amount,
                store: a.store.map(|s| Text::from(s.as_str())),
            });
        }
        drop(auths);
        authorizations.sort_by_key(|a| (a.created_at, a.authorization_id));
        sort_by_time(&mut records);
        FlexitiSide {
            records,
            authorizations,
            listed_authorizations,
            incomplete_days: Default::default(),
        }
    }
}

/// Keeps the first record read of each capture and of each (capture, return): a capture listed
/// on several dates, pages or files is one sale, and its returns the union of every listing's.
/// Found by sorting small keys rather than with a table filled while reading, which held as
/// much memory as the records' ids while the rows were still coming.
fn keep_first_listing(records: &mut Vec<FlexitiRecord>) {
    let mut keys: Vec<(u64, u64, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            // Return ids have at most 16 digits, so `u64::MAX` marks the sale.
            (r.capture_id, r.return_id.unwrap_or(u64::MAX), i)
        })
        .collect();
    keys.sort_unstable();
    let mut keep = vec![true; records.len()];
    for pair in keys.windows(2) {
        if let [a, b] = pair
            && (a.0, a.1) == (b.0, b.1)
            && let Some(k) = keep.get_mut(b.2 as usize)
        {
            *k = false;
        }
    }
    drop(keys);
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut flags = keep.into_iter();
    records.retain(|_| flags.next().unwrap_or(true));
}

/// Orders records by time, record id and kind (ties keep the order read), in place. The order is found on
/// small keys and each record then moves once along its cycle of the permutation: sorting the
/// records themselves moved each of them many times, and a sorted copy doubled the memory.
fn sort_by_time(records: &mut [FlexitiRecord]) {
    let mut keys: Vec<(DateTime<Utc>, u64, Kind, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            (r.at, r.record_id(), r.kind, i)
        })
        .collect();
    // The position makes every key distinct: the order is that of a stable sort.
    keys.sort_unstable();
    // `from[i]`: the position whose record belongs at position `i`.
    let mut from: Vec<u32> = keys.into_iter().map(|k| k.3).collect();
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let source = from[at] as usize;
            from[at] = u32::try_from(at).unwrap_or(u32::MAX);
            if source == start {
                break;
            }
            records.swap(at, source);
            at = source;
        }
    }
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
        // The authorization is captured: counted, not kept for the not_captured check.
        assert_eq!(side.listed_authorizations, 1);
        assert!(side.authorizations.is_empty());
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
        assert_eq!(side.listed_authorizations, 0);
    }
}
