//! When freed memory goes back to the system.
//!
//! The binary keeps freed memory for reuse (mimalloc's purge delay of -1, `src/main.rs`): a
//! reconciliation frees and allocates in bursts, and memory handed back is faulted in and
//! zeroed again when reused. But at the few moments a run frees most of what it holds (the
//! Flexiti side's authorizations and sort keys once the side is built, the ledger's sort keys
//! once matching has ordered the window), the allocations that
//! follow do not fit in what was freed, and keeping it raised the 10M-row run's peak by
//! hundreds of megabytes (README, "Performance"). [`hand_back_freed`] hands back what is freed
//! while its guard lives, and only then.

use std::os::raw::c_long;
use std::sync::Mutex;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3); the binding does not name it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Guards alive, and the delay to restore when the last one drops.
static HANDING_BACK: Mutex<(usize, c_long)> = Mutex::new((0, 0));

/// While alive, memory freed is handed back to the system at once (purge delay 0).
#[must_use = "memory is handed back only while the guard lives"]
pub struct HandBack {
    active: bool,
}

/// Hands back memory freed from now until the guard drops, when the delay goes back to what it
/// was. Does nothing when the delay is not the binary's "keep" (-1): set by
/// `MIMALLOC_PURGE_DELAY`, it is the operator's choice; in tests, another allocator serves.
pub fn hand_back_freed() -> HandBack {
    let Ok(mut state) = HANDING_BACK.lock() else {
        return HandBack { active: false };
    };
    if state.0 == 0 {
        let delay = get();
        if delay != -1 || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return HandBack { active: false };
        }
        state.1 = delay;
        set(0);
    }
    state.0 += 1;
    HandBack { active: true }
}

impl Drop for HandBack {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        let Ok(mut state) = HANDING_BACK.lock() else {
            return;
        };
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            set(state.1);
        }
    }
}

fn get() -> c_long {
    // SAFETY: reads one integer option; mimalloc reads and writes options with atomics.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(PURGE_DELAY)
    }
}

fn set(delay: c_long) {
    // SAFETY: sets one integer option; mimalloc allows options to be set at any time and
    // reads them with atomics.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_is_zero_while_a_guard_lives_and_restored_after_the_last() {
        // Tests run on the system allocator with mimalloc's default delay: set the binary's.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        set(-1);
        let first = hand_back_freed();
        let second = hand_back_freed();
        assert_eq!(get(), 0);
        drop(first);
        assert_eq!(get(), 0, "another guard still lives");
        drop(second);
        assert_eq!(get(), -1);
        // Any other delay is left alone.
        set(10);
        let guard = hand_back_freed();
        assert_eq!(get(), 10);
        drop(guard);
        assert_eq!(get(), 10);
    }
}
