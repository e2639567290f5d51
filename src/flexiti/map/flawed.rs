//! Rows that break the contract, and the invalid records made of them.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::domain::{Amount, Breach, FlexitiRecord, InvalidRecord, Text};

use super::Source;
use super::auths::Resolved;
use super::runs::Runs;
use crate::flexiti::wire::Lenient;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum FlawedKind {
    Capture,
    Return,
    Authorization,
}

/// A row that breaks the contract, as read (its reference may still come from its
/// authorization).
#[derive(Debug, Clone)]
pub(super) struct Flawed {
    pub(super) source: Arc<Source>,
    pub(super) kind: FlawedKind,
    /// The capture's, return's or authorization's own id.
    pub(super) id: u64,
    pub(super) capture_id: u64,
    pub(super) authorization_id: u64,
    pub(super) reference: Text,
    pub(super) breach: Breach,
    pub(super) value: Box<str>,
}

impl Flawed {
    pub(super) fn key(&self) -> (FlawedKind, u64, Breach) {
        (self.kind, self.id, self.breach)
    }

    pub(super) fn into_invalid(self) -> InvalidRecord {
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
pub(super) fn given(reference: Option<Text>) -> Option<Text> {
    reference.filter(|r| !r.trim().is_empty())
}

/// The amount if the contract allows it, else the breach and the value as sent.
pub(super) fn checked_amount(amount: Lenient<Amount>) -> Result<Amount, (Breach, Box<str>)> {
    match amount {
        Ok(a) if a.is_negative() => Err((Breach::NegativeAmount, a.to_string().into())),
        Ok(a) => Ok(a),
        Err(raw) => Err((Breach::BadAmount, raw)),
    }
}

/// The invalid records, once each (by kind, id and breach; the first source in order), in id
/// order: the flawed rows with their authorization's reference where they have none, and the
/// records still without a reference after the authorizations', taken out of `records`.
pub(super) fn invalid_records(
    records: &mut Runs<FlexitiRecord>,
    mut flawed: Vec<Flawed>,
    unreferenced: Vec<Flawed>,
    auths: &Resolved,
) -> Vec<InvalidRecord> {
    if !unreferenced.is_empty() {
        let still: FxHashSet<(u64, Option<u64>)> = records
            .iter()
            .filter(|r| r.reference.is_empty())
            .map(|r| (r.capture_id, r.return_id()))
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
            && let Some(reference) = auths
                .get(f.authorization_id)
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
