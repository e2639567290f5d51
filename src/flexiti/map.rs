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

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::{
    Amount, AuthorizationInfo, Breach, FlexitiRecord, FlexitiSide, InvalidRecord, Kind, Label, Text,
};

use super::wire::{Lenient, WireAuthorization, WireCapture};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FlawedKind {
    Capture,
    Return,
    Authorization,
}

/// A row that breaks the contract, as read (its reference may still come from its
/// authorization).
#[derive(Debug, Clone)]
struct Flawed {
    source: Arc<Source>,
    kind: FlawedKind,
    /// The capture's, return's or authorization's own id.
    id: u64,
    capture_id: u64,
    authorization_id: u64,
    reference: Text,
    breach: Breach,
    value: Box<str>,
}

impl Flawed {
    fn key(&self) -> (FlawedKind, u64, Breach) {
        (self.kind, self.id, self.breach)
    }

    fn into_invalid(self) -> InvalidRecord {
        let kind = match self.kind {
            FlawedKind::Capture => "capture",
            FlawedKind::Return => "return",
            FlawedKind::Authorization => "authorization",
        };
        InvalidRecord {
            source: self.source.endpoint.clone(),
            parameters: self.source.parameters.clone(),
            utc_date: self.source.utc_date,
            id: format!("{kind}:{}", self.id),
            reference: self.reference,
            breach: self.breach,
            value: self.value.into(),
        }
    }
}

/// A reference that is absent or blank is no reference.
fn given(reference: Option<Text>) -> Option<Text> {
    reference.filter(|r| !r.trim().is_empty())
}

/// The amount if the contract allows it, else the breach and the value as sent.
fn checked_amount(amount: Lenient<Amount>) -> Result<Amount, (Breach, Box<str>)> {
    match amount {
        Ok(a) if a.is_negative() => Err((Breach::NegativeAmount, a.to_string().into())),
        Ok(a) => Ok(a),
        Err(raw) => Err((Breach::BadAmount, raw)),
    }
}

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
            created_at: a.creation_date.ok().flatten(),
            amount: a.amount.ok().flatten().unwrap_or_default(),
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
    /// Rows that break the contract (none of them is among `records`).
    flawed: Vec<Flawed>,
    /// Records read without a reference of their own: invalid unless their authorization
    /// gives them one (decided by [`Collected::into_side`]).
    unreferenced: Vec<Flawed>,
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
        let id = a.authorization_id;
        self.authorizations.add(id, AuthEntry::new(a, listed));
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
        let base = FlexitiRecord {
            kind: Kind::Sale,
            reference: reference.clone().unwrap_or_default(),
            amount: *amount.as_ref().unwrap_or(&Amount::ZERO),
            at: *date.as_ref().unwrap_or(&DateTime::<Utc>::UNIX_EPOCH),
            capture_id: c.capture_id,
            return_id: None,
            authorization_id: c.authorization_id,
            store: c.external_location_id.as_deref().map(Label::new),
        };
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
            self.records.push(FlexitiRecord {
                kind: Kind::Return,
                reference: own.unwrap_or_default(),
                amount: *amount,
                at: *at,
                return_id: Some(r.return_id),
                ..base.clone()
            });
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
        self.flawed.extend(other.flawed);
        self.unreferenced.extend(other.unreferenced);
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
            flawed,
            unreferenced,
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
        let invalid = invalid_records(&mut records, flawed, unreferenced, &auths);
        drop(auths);
        authorizations.sort_by_key(|a| (a.created_at, a.authorization_id));
        sort_by_time(&mut records);
        FlexitiSide {
            records,
            authorizations,
            listed_authorizations,
            incomplete_days: Default::default(),
            invalid,
        }
    }
}

/// The invalid records, once each (by kind, id and breach; the first source in order), in id
/// order: the flawed rows with their authorization's reference where they have none, and the
/// records still without a reference after the authorizations', taken out of `records`.
fn invalid_records(
    records: &mut Vec<FlexitiRecord>,
    mut flawed: Vec<Flawed>,
    unreferenced: Vec<Flawed>,
    auths: &Authorizations,
) -> Vec<InvalidRecord> {
    if !unreferenced.is_empty() {
        let still: FxHashSet<(u64, Option<u64>)> = records
            .iter()
            .filter(|r| r.reference.is_empty())
            .map(|r| (r.capture_id, r.return_id))
            .collect();
        if !still.is_empty() {
            records.retain(|r| !r.reference.is_empty());
            flawed.extend(unreferenced.into_iter().filter(|f| {
                let key = match f.kind {
                    FlawedKind::Return => (f.capture_id, Some(f.id)),
                    _ => (f.capture_id, None),
                };
                still.contains(&key)
            }));
        }
    }
    if flawed.is_empty() {
        return Vec::new();
    }
    for f in &mut flawed {
        if f.reference.is_empty()
            && let Some(i) = auths.index.get(&f.authorization_id)
            && let Some(reference) = auths
                .entries
                .get(*i as usize)
                .and_then(|a| given(a.reference.clone()))
        {
            f.reference = reference;
        }
    }
    flawed.sort_by(|a, b| {
        (a.key(), &a.source.endpoint, &a.source.parameters).cmp(&(
            b.key(),
            &b.source.endpoint,
            &b.source.parameters,
        ))
    });
    flawed.dedup_by_key(|f| f.key());
    flawed.into_iter().map(Flawed::into_invalid).collect()
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
