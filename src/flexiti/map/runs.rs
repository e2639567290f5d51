//! Rows kept in the runs they were read in.
//!
//! Files are parsed on several threads, each into its own vector. Merging those into one
//! vector copied every record and authorization row once more, into memory touched for the
//! first time (at 10M records, about 1.3 GB and a fifth of the run's page faults). The runs are
//! kept instead, in the order read, and addressed by one position as if they were one vector;
//! the side's records become one vector only when they are copied into time order, a step
//! made anyway.

/// A run appended to another with room for it is copied into it when it holds fewer rows than
/// this (a list page of an audit bundle, about 1000 rows): positions stay cheap to look up.
const SMALL_RUN: usize = 1 << 16;

/// Rows in runs, in the order read.
#[derive(Debug)]
pub(super) struct Runs<T> {
    runs: Vec<Vec<T>>,
    /// The position of each run's first row.
    starts: Vec<usize>,
}

impl<T> Default for Runs<T> {
    fn default() -> Self {
        Runs {
            runs: Vec::new(),
            starts: Vec::new(),
        }
    }
}

impl<T> Runs<T> {
    /// The run rows are pushed to, made when there is none.
    fn last_run(&mut self) -> &mut Vec<T> {
        if self.runs.is_empty() {
            self.runs.push(Vec::new());
            self.starts.push(0);
        }
        let last = self.runs.len() - 1;
        &mut self.runs[last]
    }

    pub(super) fn push(&mut self, row: T) {
        self.last_run().push(row);
    }

    /// Room for `rows` more rows: in the last run if it is empty or has that room, else in a
    /// new one (the rows read are never moved to make room).
    pub(super) fn reserve(&mut self, rows: usize) {
        match self.runs.last_mut() {
            Some(last) if last.is_empty() || last.capacity() - last.len() >= rows => {
                last.reserve(rows);
            }
            _ => {
                self.starts.push(self.len());
                self.runs.push(Vec::with_capacity(rows));
            }
        }
    }

    /// Room in the last run (the rows it can take without growing).
    pub(super) fn capacity(&self) -> usize {
        self.runs.last().map_or(0, |r| r.capacity())
    }

    pub(super) fn len(&self) -> usize {
        let last = self.starts.last().zip(self.runs.last());
        last.map_or(0, |(start, run)| start + run.len())
    }

    /// `other`'s rows after these: its runs kept as they are, except a small one that fits in
    /// the room left in the last run.
    pub(super) fn append(&mut self, other: Runs<T>) {
        for run in other.runs {
            if run.is_empty() {
                continue;
            }
            let room = self
                .runs
                .last()
                .map_or(0, |last| last.capacity() - last.len());
            if run.len() < SMALL_RUN && run.len() <= room {
                self.last_run().extend(run);
                continue;
            }
            // An empty last run (room reserved, never used) gives its place.
            if self.runs.last().is_some_and(Vec::is_empty) {
                self.runs.pop();
                self.starts.pop();
            }
            self.starts.push(self.len());
            self.runs.push(run);
        }
    }

    pub(super) fn get(&self, position: usize) -> Option<&T> {
        let (run, at) = locate(&self.starts, position)?;
        self.runs.get(run)?.get(at)
    }

    pub(super) fn get_mut(&mut self, position: usize) -> Option<&mut T> {
        let (run, at) = locate(&self.starts, position)?;
        self.runs.get_mut(run)?.get_mut(at)
    }

    /// The rows in the order read. The iterator knows its length, so that a vector collected
    /// from it is allocated once (grown by doubling, a vector of millions of keys was copied
    /// into fresh memory a dozen times).
    pub(super) fn iter(&self) -> Iter<'_, T> {
        Iter {
            rows: self.runs.iter().flatten(),
            left: self.len(),
        }
    }

    /// Keeps the rows `keep` returns true for, in place, visiting them in the order read.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut len = 0;
        for (run, start) in self.runs.iter_mut().zip(&mut self.starts) {
            run.retain(&mut keep);
            *start = len;
            len += run.len();
        }
    }

    /// Copies of the rows at `order`'s positions, in that order, as one vector, made on every
    /// core when there are many: each copy waits on a read from anywhere in the runs, and two
    /// cores wait on twice as many at once. (Moving the rows out instead is one core's work:
    /// a row can be taken from the runs by one thread only.) `self` is left as it was.
    ///
    /// Positions past the end are dropped.
    pub(super) fn cloned_in(&self, order: &[u32]) -> Vec<T>
    where
        T: Clone + Send + Sync,
    {
        use rayon::prelude::*;
        let len = self.len();
        let copy = |&position: &u32| {
            let position = position as usize;
            // In range (checked below), so the run exists and holds the row.
            let run = self.starts.partition_point(|&s| s <= position) - 1;
            self.runs[run][position - self.starts[run]].clone()
        };
        let mut out = Vec::with_capacity(order.len());
        if order.iter().any(|&p| p as usize >= len) {
            out.extend(order.iter().filter(|&&p| (p as usize) < len).map(copy));
        } else if order.len() < crate::sorting::PARALLEL_FROM {
            out.extend(order.iter().map(copy));
        } else {
            order.par_iter().map(copy).collect_into_vec(&mut out);
        }
        out
    }

    /// Each vector its own run, in order (tests).
    #[cfg(test)]
    pub(super) fn from_runs(runs: Vec<Vec<T>>) -> Self {
        let mut all = Runs::default();
        for run in runs {
            all.starts.push(all.len());
            all.runs.push(run);
        }
        all
    }

    /// The rows in the order read, as one vector (moved, not copied, when there is one run).
    pub(super) fn into_vec(mut self) -> Vec<T> {
        if self.runs.len() <= 1 {
            return self.runs.pop().unwrap_or_default();
        }
        let mut all = Vec::with_capacity(self.len());
        for run in self.runs {
            all.extend(run);
        }
        all
    }
}

/// The run holding `position` (runs starting at `starts`), and the position within it.
fn locate(starts: &[usize], position: usize) -> Option<(usize, usize)> {
    let run = starts.partition_point(|&s| s <= position).checked_sub(1)?;
    Some((run, position - starts.get(run)?))
}

/// The rows of [`Runs`] in the order read.
pub(super) struct Iter<'a, T> {
    rows: std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>,
    left: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let row = self.rows.next()?;
        self.left = self.left.saturating_sub(1);
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_of(parts: &[&[u32]], reserve: usize) -> Runs<u32> {
        let mut all = Runs::default();
        all.reserve(reserve);
        for part in parts {
            let mut runs = Runs::default();
            for &x in *part {
                runs.push(x);
            }
            all.append(runs);
        }
        all
    }

    #[test]
    fn runs_read_as_one_vector_in_the_order_appended() {
        // No room: each part its own run; room: small parts copied into it.
        for reserve in [0, 100] {
            let mut all = runs_of(&[&[1, 2, 3], &[], &[4], &[5, 6]], reserve);
            let whole: Vec<u32> = (1..=6).collect();
            assert_eq!(all.len(), 6);
            assert_eq!(all.iter().len(), 6);
            assert_eq!(all.iter().copied().collect::<Vec<_>>(), whole);
            for (i, x) in whole.iter().enumerate() {
                assert_eq!(all.get(i), Some(x), "position {i}, room {reserve}");
            }
            assert_eq!(all.get(6), None);
            *all.get_mut(3).expect("position 3") = 40;
            all.retain(|x| x % 2 == 0);
            assert_eq!(all.iter().copied().collect::<Vec<_>>(), [2, 40, 6]);
            assert_eq!(
                (all.get(1), all.get(2), all.get(3)),
                (Some(&40), Some(&6), None)
            );
            assert_eq!(all.cloned_in(&[2, 0, 9, 1]), [6, 2, 40]);
            assert_eq!(all.into_vec(), [2, 40, 6]);
        }
    }

    #[test]
    fn a_large_run_is_kept_and_an_unused_reservation_gives_its_place() {
        // Large enough to be copied on every core as well.
        let rows = SMALL_RUN.max(crate::sorting::PARALLEL_FROM) + 1;
        let large: Vec<u32> = (0..rows as u32).collect();
        let all = runs_of(&[&large, &[7]], 10);
        // The reservation's empty run is gone; the small part went into the large run's room
        // only if it had some (a vector built by pushing usually has).
        assert_eq!(all.starts.first(), Some(&0));
        assert!(all.runs.first().map_or(0, Vec::len) >= large.len());
        assert_eq!(all.get(large.len()), Some(&7));
        // Copied on every core: the same rows as one by one.
        let order: Vec<u32> = (0..all.len() as u32).rev().collect();
        let mut expected: Vec<u32> = all.iter().copied().collect();
        expected.reverse();
        assert_eq!(all.cloned_in(&order), expected);
        assert_eq!(all.into_vec().len(), large.len() + 1);
    }
}
