//! Interned labels: store and register ids. A run holds one per record and row (tens of
//! millions in a year's rerun) but only a few hundred distinct values, so each is kept once for
//! the whole process and records hold a 4-byte handle.
//!
//! The table only grows (a label is never freed): it holds distinct values, which stay few for
//! the labels interned here.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;

/// A store or register id, compared and hashed by handle; reads as the `str` it stands for.
/// Holds its index plus one, so that an `Option<Label>` takes 4 bytes too.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(NonZeroU32);

/// Label ids by text, for interning (under a lock, only on a thread's first sight of a text).
fn ids() -> &'static Mutex<FxHashMap<&'static str, Label>> {
    static IDS: OnceLock<Mutex<FxHashMap<&'static str, Label>>> = OnceLock::new();
    IDS.get_or_init(Mutex::default)
}

/// Texts by label id: append-only, read without a lock.
static NAMES: boxcar::Vec<&'static str> = boxcar::Vec::new();

thread_local! {
    /// Each thread's copy of the labels it has seen: parsing threads look up without locking.
    static SEEN: RefCell<FxHashMap<&'static str, Label>> = RefCell::new(FxHashMap::default());
}

impl Label {
    pub fn new(text: &str) -> Label {
        if let Some(label) = SEEN.with(|seen| seen.borrow().get(text).copied()) {
            return label;
        }
        let (name, label) = Self::intern(text);
        SEEN.with(|seen| seen.borrow_mut().insert(name, label));
        label
    }

    fn intern(text: &str) -> (&'static str, Label) {
        // A poisoned lock still holds a consistent map: entries are added whole.
        let mut ids = ids().lock().unwrap_or_else(|e| e.into_inner());
        if let Some((&name, &label)) = ids.get_key_value(text) {
            return (name, label);
        }
        let name: &'static str = Box::leak(text.into());
        // Pushed under the lock, so the index is the next one.
        let index = NAMES.push(name);
        let label = Label(
            u32::try_from(index + 1)
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MAX),
        );
        if let Entry::Vacant(slot) = ids.entry(name) {
            slot.insert(label);
        }
        (name, label)
    }

    pub fn as_str(self) -> &'static str {
        let index = self.0.get() as usize - 1;
        NAMES.get(index).copied().unwrap_or("")
    }
}

impl std::ops::Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// The few labels a reader met last, found by comparing texts before the thread's table is
/// asked: a run's stores and registers are few, and comparing a short text with a handful of
/// others costs less than hashing it and probing a table, once per record or row.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    recent: Vec<(&'static str, Label)>,
}

impl Labels {
    /// Labels kept; a reader that meets more asks the table for the others.
    const KEPT: usize = 8;

    /// `Label::new(text)`.
    pub fn get(&mut self, text: &str) -> Label {
        if let Some(&(_, label)) = self.recent.iter().find(|(seen, _)| *seen == text) {
            return label;
        }
        let label = Label::new(text);
        if self.recent.len() < Self::KEPT {
            self.recent.push((label.as_str(), label));
        }
        label
    }
}

impl From<&str> for Label {
    fn from(text: &str) -> Label {
        Label::new(text)
    }
}

impl PartialEq<str> for Label {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_is_one_label_across_threads_and_reads_back() {
        let here = Label::new("00-12345");
        let there = std::thread::spawn(|| Label::new("00-12345"))
            .join()
            .expect("thread runs");
        assert_eq!(here, there);
        assert_ne!(here, Label::new("00-67890"));
        assert_eq!(&*here, "00-12345");
        assert_eq!(Some(here).as_deref(), Some("00-12345"));
        assert_eq!(Label::new("").as_str(), "");
        assert_eq!(std::mem::size_of::<Option<Label>>(), 4);
    }

    #[test]
    fn labels_found_among_the_recent_are_the_labels_of_the_table() {
        let mut labels = Labels::default();
        let texts: Vec<String> = (0..20).map(|i| format!("labels-{i}")).collect();
        // Twice over more texts than are kept: the first ones come from the kept few, the
        // rest from the table, every one the label of its text.
        for _ in 0..2 {
            for text in &texts {
                let label = labels.get(text);
                assert_eq!(label, Label::new(text));
                assert_eq!(label.as_str(), text);
            }
        }
        assert_eq!(labels.recent.len(), Labels::KEPT);
        assert_ne!(labels.get("labels-0"), labels.get("labels-1"));
    }
}
