//! Sorts of large key vectors on both cores: the Flexiti side's time order and authorization
//! ids (`src/flexiti/map/`) and the engine's rule order (`src/reconcile/matching.rs`).

use rayon::slice::ParallelSliceMut;

/// Items from which a sort runs on both cores: below it, a thread costs more than it saves.
pub const PARALLEL_FROM: usize = 100_000;

/// `keys.sort_unstable()`, on both cores when there are many.
pub fn sort_unstable<T: Ord + Send>(keys: &mut [T]) {
    if keys.len() < PARALLEL_FROM {
        keys.sort_unstable();
    } else {
        keys.par_sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sort_orders_small_and_large_vectors_alike() {
        for n in [10usize, PARALLEL_FROM + 7] {
            let keys: Vec<(u64, u32)> = (0..n)
                .map(|i| ((i as u64 * 7_919) % 1_000, i as u32))
                .collect();
            let mut expected = keys.clone();
            expected.sort();
            let mut unstable = keys;
            sort_unstable(&mut unstable);
            assert_eq!(unstable, expected, "{n}");
        }
    }
}
