//! Fault injection for the sandbox: what can go wrong on a call, how often, and the seeded dice
//! that decide it.
//!
//! Rates are integer per-mille (no floats). The dice are one seeded RNG shared by the server, so a
//! test that sends the same calls in the same order sees the same faults. `fail_first_n_per_call`
//! is the exact alternative: each distinct call fails its first N times, whatever the dice say.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which faults the sandbox injects; everything is off by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Seed of the dice for the per-mille faults.
    pub seed: u64,
    /// Delay before every answer.
    pub latency_ms: u64,
    /// Random 500/502/503/504 with a `general_error` body.
    pub server_error_per_mille: u32,
    /// Random 429 with a `Retry-After` header of `retry_after_secs`.
    pub rate_limit_per_mille: u32,
    pub retry_after_secs: u64,
    /// Tokens really expire after this many seconds, while still announcing `expires_in: 1200`.
    pub token_ttl_secs: Option<u64>,
    /// 200 with a truncated JSON body.
    pub malformed_json_per_mille: u32,
    /// 200 whose body stops half-way and whose connection is dropped.
    pub drop_connection_per_mille: u32,
    /// A list page whose creation-date range includes one of these UTC dates always answers 500.
    pub failing_dates: Vec<NaiveDate>,
    /// A lookup of one of these authorizations always answers 500.
    pub failing_authorization_ids: Vec<u64>,
    /// 503 on every endpoint, the token endpoint included.
    pub maintenance: bool,
    /// List pages as `{"captures": [...], "total": N, "total_pages": P}` instead of a bare array.
    pub wrapped_pages: bool,
    /// Each distinct call (method, path and query) answers 503 its first N times.
    pub fail_first_n_per_call: u32,
    /// The first N token replies are a 200 whose JSON does not parse (`expires_in` is text and
    /// the body stops short) while carrying the access and refresh tokens just issued.
    pub bad_token_replies: u32,
    /// A list page whose creation-date range includes one of these UTC dates answers 200 with
    /// its body cut half way (the connection stays up).
    pub cut_dates: Vec<NaiveDate>,
    /// A list page whose creation-date range includes one of these UTC dates answers 409
    /// `wrong_inputs` whose `field_errors` echo the account number of the date's first
    /// authorization.
    pub conflict_dates: Vec<NaiveDate>,
    /// Every Nth data request (lists and lookups, counted together) answers 429 with a
    /// `Retry-After` of `retry_after_secs`.
    pub rate_limit_every: u32,
    /// The token reply's `expires_in`, as raw JSON text (e.g. `18446744073709551615`, `-5`).
    pub token_expires_in: Option<String>,
    /// The token call answers 307 to the same path under this base URL.
    pub redirect_token_to: Option<String>,
    /// List pages answer 307 to the same path and query under this base URL.
    pub redirect_lists_to: Option<String>,
    /// List pages are a 200 whose array never ends, sent as fast as the client reads.
    pub endless_list_body: bool,
    /// List pages are a 200 that sends one byte every this many milliseconds, forever.
    pub trickle_list_body_ms: Option<u64>,
    /// List pages hold at most this many rows whatever `page_size` asks, and a bare page
    /// announces no totals: a short page is then not the end.
    pub page_size_cap: Option<usize>,
    /// A lookup answers with the authorization whose id is one more than the one asked.
    pub lookup_other_id: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            latency_ms: 0,
            server_error_per_mille: 0,
            rate_limit_per_mille: 0,
            retry_after_secs: 1,
            token_ttl_secs: None,
            malformed_json_per_mille: 0,
            drop_connection_per_mille: 0,
            failing_dates: Vec::new(),
            failing_authorization_ids: Vec::new(),
            maintenance: false,
            wrapped_pages: false,
            fail_first_n_per_call: 0,
            bad_token_replies: 0,
            cut_dates: Vec::new(),
            conflict_dates: Vec::new(),
            rate_limit_every: 0,
            token_expires_in: None,
            redirect_token_to: None,
            redirect_lists_to: None,
            endless_list_body: false,
            trickle_list_body_ms: None,
            page_size_cap: None,
            lookup_other_id: false,
        }
    }
}

impl Faults {
    /// Parses a CLI spec such as `latency_ms=50,server_error_per_mille=100,failing_dates=2026-11-24`.
    /// Lists take `;` between values (`failing_dates=2026-11-24;2026-11-25`) or a repeated key;
    /// a boolean may be given bare (`maintenance`). An empty spec is no fault at all.
    pub fn from_spec(spec: &str) -> anyhow::Result<Faults> {
        let mut faults = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').unwrap_or((item, "true"));
            let (key, value) = (key.trim(), value.trim());
            let context = || format!("fault spec '{item}': bad value for {key}");
            match key {
                "seed" => faults.seed = value.parse().with_context(context)?,
                "latency_ms" => faults.latency_ms = value.parse().with_context(context)?,
                "server_error_per_mille" => {
                    faults.server_error_per_mille = per_mille(value).with_context(context)?;
                }
                "rate_limit_per_mille" => {
                    faults.rate_limit_per_mille = per_mille(value).with_context(context)?;
                }
                "retry_after_secs" => {
                    faults.retry_after_secs = value.parse().with_context(context)?
                }
                "token_ttl_secs" => {
                    faults.token_ttl_secs = Some(value.parse().with_context(context)?);
                }
                "malformed_json_per_mille" => {
                    faults.malformed_json_per_mille = per_mille(value).with_context(context)?;
                }
                "drop_connection_per_mille" => {
                    faults.drop_connection_per_mille = per_mille(value).with_context(context)?;
                }
                "failing_dates" => {
                    for date in list(value) {
                        let parsed =
                            NaiveDate::parse_from_str(date, "%Y-%m-%d").with_context(context)?;
                        faults.failing_dates.push(parsed);
                    }
                }
                "failing_authorization_ids" => {
                    for id in list(value) {
                        faults
                            .failing_authorization_ids
                            .push(id.parse().with_context(context)?);
                    }
                }
                "maintenance" => faults.maintenance = value.parse().with_context(context)?,
                "wrapped_pages" => faults.wrapped_pages = value.parse().with_context(context)?,
                "fail_first_n_per_call" => {
                    faults.fail_first_n_per_call = value.parse().with_context(context)?;
                }
                "bad_token_replies" => {
                    faults.bad_token_replies = value.parse().with_context(context)?;
                }
                "cut_dates" | "conflict_dates" => {
                    let target = if key == "cut_dates" {
                        &mut faults.cut_dates
                    } else {
                        &mut faults.conflict_dates
                    };
                    for date in list(value) {
                        let parsed =
                            NaiveDate::parse_from_str(date, "%Y-%m-%d").with_context(context)?;
                        target.push(parsed);
                    }
                }
                "rate_limit_every" => {
                    faults.rate_limit_every = value.parse().with_context(context)?
                }
                "token_expires_in" => faults.token_expires_in = Some(value.to_string()),
                "redirect_token_to" => faults.redirect_token_to = Some(value.to_string()),
                "redirect_lists_to" => faults.redirect_lists_to = Some(value.to_string()),
                "endless_list_body" => {
                    faults.endless_list_body = value.parse().with_context(context)?;
                }
                "trickle_list_body_ms" => {
                    faults.trickle_list_body_ms = Some(value.parse().with_context(context)?);
                }
                "page_size_cap" => {
                    let cap: usize = value.parse().with_context(context)?;
                    if cap == 0 {
                        bail!("fault spec '{item}': page_size_cap must be at least 1");
                    }
                    faults.page_size_cap = Some(cap);
                }
                "lookup_other_id" => {
                    faults.lookup_other_id = value.parse().with_context(context)?
                }
                other => bail!(
                    "fault spec '{item}': unknown fault '{other}' (known: seed, latency_ms, \
                     server_error_per_mille, rate_limit_per_mille, retry_after_secs, \
                     token_ttl_secs, malformed_json_per_mille, drop_connection_per_mille, \
                     failing_dates, failing_authorization_ids, maintenance, wrapped_pages, \
                     fail_first_n_per_call, bad_token_replies, cut_dates, conflict_dates, \
                     rate_limit_every, token_expires_in, \
                     redirect_token_to, redirect_lists_to, endless_list_body, \
                     trickle_list_body_ms, page_size_cap, lookup_other_id)"
                ),
            }
        }
        Ok(faults)
    }
}

fn per_mille(value: &str) -> anyhow::Result<u32> {
    let rate: u32 = value.parse()?;
    if rate > 1000 {
        bail!("{rate} is more than 1000 per mille");
    }
    Ok(rate)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// The server's dice and per-call counters.
#[derive(Debug)]
pub(crate) struct Dice {
    rng: StdRng,
    calls: HashMap<String, u32>,
    /// Data requests counted by [`Dice::every`].
    requests: u64,
}

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Dice {
            rng: StdRng::seed_from_u64(seed),
            calls: HashMap::new(),
            requests: 0,
        }
    }

    /// Counts one more data request and says whether it is an Nth one.
    pub(crate) fn every(&mut self, n: u32) -> bool {
        if n == 0 {
            return false;
        }
        self.requests += 1;
        self.requests.is_multiple_of(u64::from(n))
    }

    /// True with probability `per_mille / 1000`; a zero rate does not consume the dice, so
    /// switching one fault off leaves the others' sequence unchanged.
    pub(crate) fn roll(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.rng.random_range(0..1000) < per_mille
    }

    pub(crate) fn pick<'a, T>(&mut self, choices: &'a [T]) -> Option<&'a T> {
        if choices.is_empty() {
            return None;
        }
        choices.get(self.rng.random_range(0..choices.len()))
    }

    /// Counts one more attempt of `call` and says whether it is still among its first `n`.
    pub(crate) fn within_first(&mut self, call: &str, n: u32) -> bool {
        if n == 0 {
            return false;
        }
        let seen = self.calls.entry(call.to_string()).or_insert(0);
        *seen += 1;
        *seen <= n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_sets_each_named_fault_and_leaves_the_rest_off() {
        let faults = Faults::from_spec(
            "latency_ms=50, server_error_per_mille=100,failing_dates=2026-11-24;2026-11-25,\
             failing_dates=2026-11-26,maintenance,failing_authorization_ids=42,token_ttl_secs=3",
        )
        .expect("valid spec");
        assert_eq!(faults.latency_ms, 50);
        assert_eq!(faults.server_error_per_mille, 100);
        assert_eq!(faults.failing_dates.len(), 3);
        assert!(faults.maintenance);
        assert_eq!(faults.failing_authorization_ids, vec![42]);
        assert_eq!(faults.token_ttl_secs, Some(3));
        let leaky = Faults::from_spec(
            "bad_token_replies=2,cut_dates=2026-11-22,conflict_dates=2026-11-24;2026-11-25",
        )
        .expect("valid spec");
        assert_eq!(leaky.bad_token_replies, 2);
        assert_eq!(leaky.cut_dates.len(), 1);
        assert_eq!(leaky.conflict_dates.len(), 2);
        assert_eq!(faults.rate_limit_per_mille, 0);
        assert!(!faults.wrapped_pages);
        assert_eq!(
            Faults::from_spec("").expect("empty spec"),
            Faults::default()
        );
    }

    #[test]
    fn a_bad_spec_names_the_faulty_item() {
        let err = Faults::from_spec("latency_ms=fast").expect_err("bad number");
        assert!(err.to_string().contains("latency_ms=fast"), "{err}");
        let err = Faults::from_spec("server_error_per_mille=1500").expect_err("too high");
        assert!(format!("{err:#}").contains("more than 1000"), "{err:#}");
        let err = Faults::from_spec("gremlins=3").expect_err("unknown");
        assert!(
            err.to_string().contains("unknown fault 'gremlins'"),
            "{err}"
        );
    }

    #[test]
    fn the_dice_are_reproducible_and_the_first_n_counter_is_exact() {
        let rolls = |seed| {
            let mut dice = Dice::new(seed);
            (0..64).map(|_| dice.roll(300)).collect::<Vec<_>>()
        };
        assert_eq!(rolls(7), rolls(7));
        let mut dice = Dice::new(1);
        assert!(!dice.roll(0));
        assert!(dice.roll(1000));
        let firsts: Vec<bool> = (0..4).map(|_| dice.within_first("GET /a", 2)).collect();
        assert_eq!(firsts, vec![true, true, false, false]);
        assert!(dice.within_first("GET /b", 2));
        let nths: Vec<bool> = (0..6).map(|_| dice.every(3)).collect();
        assert_eq!(nths, vec![false, false, true, false, false, true]);
        assert!(!dice.every(0));
    }

    #[test]
    fn hostile_faults_are_set_by_the_spec() {
        let faults = Faults::from_spec(
            "token_expires_in=18446744073709551615,redirect_token_to=http://127.0.0.1:9/x,\
             redirect_lists_to=https://evil.example,endless_list_body,trickle_list_body_ms=50,\
             rate_limit_every=9,page_size_cap=10,lookup_other_id",
        )
        .expect("valid spec");
        assert_eq!(
            faults.token_expires_in.as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            faults.redirect_token_to.as_deref(),
            Some("http://127.0.0.1:9/x")
        );
        assert_eq!(
            faults.redirect_lists_to.as_deref(),
            Some("https://evil.example")
        );
        assert!(faults.endless_list_body && faults.lookup_other_id);
        assert_eq!(faults.trickle_list_body_ms, Some(50));
        assert_eq!(faults.rate_limit_every, 9);
        assert_eq!(faults.page_size_cap, Some(10));
        assert!(Faults::from_spec("page_size_cap=0").is_err());
    }
}
