//! Rate limiting, shared by every call of one client.
//!
//! A 429 pauses the whole client, not only the call that got it: no request leaves before the
//! pause (the `Retry-After`, or a backoff) is over. A call that is only being rate limited keeps
//! trying for `rate_limit_budget_mins` instead of a small number of attempts. The budget runs
//! from the first 429 of the call, or from the moment the API started answering nothing but
//! 429s to everyone, whichever is earlier: when the API stays rate limited beyond the budget,
//! calls give up quickly rather than each waiting a budget of its own. A success ends that
//! stretch. No pause outlasts the budget left, so a hostile `Retry-After` (a day, a year)
//! cannot hang the run: it costs at most the budget.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub struct Pace {
    budget: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    paused_until: Option<Instant>,
    /// Since when every answer has been a 429 (cleared by a success).
    limited_since: Option<Instant>,
}

impl Pace {
    pub fn new(budget: Duration) -> Pace {
        Pace {
            budget,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits while the client is paused; a pause extended meanwhile is waited for too.
    pub async fn wait(&self) {
        loop {
            let until = self.state().paused_until;
            match until {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
                }
                _ => return,
            }
        }
    }

    /// A success: the API is answering again.
    pub fn answered(&self) {
        self.state().limited_since = None;
    }

    /// A 429 for a call rate limited since `call_since`, asking to wait `asked`: pauses the
    /// client for that long (at most the budget left) and returns the pause, or returns how
    /// long the API has been rate limiting when the budget is spent.
    pub fn limited(&self, call_since: Instant, asked: Duration) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut state = self.state();
        let since = (*state.limited_since.get_or_insert(now)).min(call_since);
        let spent = now.saturating_duration_since(since);
        if spent >= self.budget {
            return Err(spent);
        }
        let wait = asked.min(self.budget - spent);
        let until = now.checked_add(wait).unwrap_or(now);
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_429_pauses_everyone_within_the_budget_and_a_success_ends_the_stretch() {
        let budget = Duration::from_millis(300);
        let pace = Pace::new(budget);
        let start = Instant::now();
        // A day asked for: the pause is the budget, no more.
        let wait = pace
            .limited(start, Duration::from_secs(86_400))
            .expect("within the budget");
        assert!(
            wait <= budget && wait > Duration::from_millis(250),
            "{wait:?}"
        );
        pace.wait().await;
        assert!(start.elapsed() >= wait, "{:?}", start.elapsed());
        // The budget is spent: the next 429 gives up at once, whichever call gets it.
        assert!(
            pace.limited(Instant::now(), Duration::from_secs(1))
                .is_err()
        );
        pace.answered();
        assert_eq!(
            pace.limited(Instant::now(), Duration::from_millis(10)),
            Ok(Duration::from_millis(10))
        );
        // A call limited since long ago is out of budget even after a success.
        pace.answered();
        assert!(pace.limited(start, Duration::from_millis(10)).is_err());
    }
}
