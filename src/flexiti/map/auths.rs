//! Authorizations by id. Rows are kept as read; the one that counts for each id (the first
//! listing, else the first lookup) is found once, when the side is built, by sorting small keys,
//! and records meet their authorization by walking both in id order. A hash table filled as
//! rows came paid a cache miss per row, in each file's part, again in the merge and again for
//! each record.

use chrono::{DateTime, Utc};

use crate::domain::{Amount, FlexitiRecord, Label, Text};
use crate::flexiti::wire::WireAuthorization;

use super::runs::Runs;

/// What the side needs of an authorization.
#[derive(Debug)]
pub(super) struct AuthEntry {
    pub(super) id: u64,
    /// Listed on a fetched date (else only looked up).
    pub(super) listed: bool,
    /// Some record refers to it (set by [`Resolved::link`]).
    pub(super) captured: bool,
    pub(super) store: Option<Label>,
    pub(super) reference: Option<Text>,
    pub(super) created_at: Option<DateTime<Utc>>,
    pub(super) amount: Amount,
}

impl AuthEntry {
    /// `store` is the label of `a.external_location_id`.
    pub(super) fn new(a: WireAuthorization, listed: bool, store: Option<Label>) -> Self {
        AuthEntry {
            id: a.authorization_id,
            listed,
            captured: false,
            store,
            reference: a.reference,
            created_at: a.creation_date.ok().flatten(),
            amount: a.amount.ok().flatten().unwrap_or_default(),
        }
    }
}

/// Authorization rows in the order read, duplicates included.
#[derive(Debug, Default)]
pub(super) struct Authorizations {
    entries: Runs<AuthEntry>,
}

/// A position in a vector of at most `u32::MAX` items (more cannot be read in memory anyway).
fn position(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Authorizations {
    pub(super) fn add(&mut self, entry: AuthEntry) {
        self.entries.push(entry);
    }

    /// `other`'s rows after these (read after them).
    pub(super) fn append(&mut self, other: Authorizations) {
        self.entries.append(other.entries);
    }

    pub(super) fn reserve(&mut self, rows: usize) {
        self.entries.reserve(rows);
    }

    /// Rows read (an authorization listed twice counts twice).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The distinct ids read, sorted.
    pub(super) fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.entries.iter().map(|a| a.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// One row per id: the first listing, else the first lookup.
#[derive(Debug)]
pub(super) struct Resolved {
    entries: Runs<AuthEntry>,
    /// Each id with the position of its row in `entries`, sorted by id.
    index: Vec<(u64, u32)>,
}

impl Resolved {
    pub(super) fn new(auths: Authorizations) -> Self {
        // Listings before lookups, then in the order read: the position makes every key
        // distinct, so the unstable sort gives the one order, in place (a stable sort's
        // scratch copy came at the moment the read peaks).
        let mut keys: Vec<(u64, bool, u32)> = auths
            .entries
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id, !a.listed, position(i)))
            .collect();
        keys.sort_unstable();
        keys.dedup_by_key(|k| k.0);
        Resolved {
            index: keys.into_iter().map(|(id, _, i)| (id, i)).collect(),
            entries: auths.entries,
        }
    }

    pub(super) fn get(&self, id: u64) -> Option<&AuthEntry> {
        let at = self.index.binary_search_by_key(&id, |k| k.0).ok()?;
        let (_, i) = self.index.get(at)?;
        self.entries.get(*i as usize)
    }

    /// The authorization's part of each record that has one (its store, and its reference
    /// where the record has none), and the authorizations some record refers to marked
    /// captured.
    pub(super) fn link(&mut self, records: &mut Runs<FlexitiRecord>) {
        let mut by_id: Vec<(u64, u32)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.authorization_id, position(i)))
            .collect();
        // On both cores when large.
        crate::sorting::sort_unstable(&mut by_id);
        let mut index = self.index.iter().peekable();
        for (id, at) in by_id {
            while index.next_if(|k| k.0 < id).is_some() {}
            let Some(&&(found, i)) = index.peek() else {
                break;
            };
            if found != id {
                continue;
            }
            let (Some(a), Some(r)) = (
                self.entries.get_mut(i as usize),
                records.get_mut(at as usize),
            ) else {
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
    }

    /// The row of each id, in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &AuthEntry> {
        self.index
            .iter()
            .filter_map(|(_, i)| self.entries.get(*i as usize))
    }
}
