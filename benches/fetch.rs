//! Fetch throughput: the real client against the in-process sandbox over loopback.
//!
//! `cargo bench --bench fetch` generates (once, cached under
//! `${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}`) a seeded data set of about 100k
//! Flexiti transactions (captures and returns), then fetches all of it for each page size,
//! concurrency and injected latency, checks that every fetch got exactly the records of the files,
//! and prints a markdown table of records fetched per second. `FLEXITI_BENCH_ORDERS` changes the
//! size of the data set; `FLEXITI_BENCH_QUICK=1` skips the slow 50 ms runs at page size 100.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use flexiti_recon::domain::{BusinessCalendar, DayRange};
use flexiti_recon::flexiti::{self, FlexitiSettings};
use flexiti_sandbox::{self as sandbox, Faults, GenerateOptions, SandboxOptions};
use secrecy::SecretString;

const SECRET: &str = "bench-secret";
const XREF: &str = "00000000000000000000000000be0c11";
const PAGE_SIZES: [u32; 2] = [100, 1000];
const CONCURRENCY: [usize; 5] = [1, 2, 4, 8, 16];
const LATENCIES_MS: [u64; 2] = [0, 50];

fn bench_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLEXITI_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/flexiti-recon/bench")
}

/// The cached data set for `orders` orders; generated when its marker file is missing.
fn data_set(orders: u64) -> anyhow::Result<PathBuf> {
    let dir = bench_root().join(format!("fetch-{orders}-seed1"));
    let marker = dir.join("complete");
    if marker.exists() {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("{}: cannot clear", dir.display()))?;
    }
    let from = NaiveDate::from_ymd_opt(2026, 11, 23).context("date")?;
    let mut opts = GenerateOptions::new(&dir, from, 3, orders);
    opts.flexiti_files = 4;
    let started = Instant::now();
    let summary = sandbox::generate(&opts)?;
    eprintln!(
        "generated {} captures, {} returns in {:.1?} into {}",
        summary.captures,
        summary.returns,
        started.elapsed(),
        dir.display()
    );
    std::fs::write(&marker, b"").with_context(|| format!("{}: cannot write", marker.display()))?;
    Ok(dir)
}

struct Row {
    latency_ms: u64,
    page_size: u32,
    concurrency: usize,
    records: u64,
    calls: u64,
    seconds: f64,
}

fn main() -> anyhow::Result<()> {
    let orders: u64 = std::env::var("FLEXITI_BENCH_ORDERS")
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context("FLEXITI_BENCH_ORDERS must be a number")?
        .unwrap_or(125_000);
    let quick = std::env::var_os("FLEXITI_BENCH_QUICK").is_some();
    let data = data_set(orders)?;
    let offline = flexiti::load_dir(&data.join("flexiti"))?;
    let calendar = BusinessCalendar::new(chrono_tz::America::Toronto);
    let days = offline.side.records.iter().map(|r| calendar.day_of(r.at));
    let (first, last) = days.fold((NaiveDate::MAX, NaiveDate::MIN), |(lo, hi), d| {
        (lo.min(d), hi.max(d))
    });
    let window = DayRange::new(first, last);
    let expected = offline.side.records.len() as u64;
    eprintln!(
        "{expected} records ({} captures) over {window}",
        offline
            .side
            .records
            .iter()
            .filter(|r| r.return_id().is_none())
            .count()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for latency_ms in LATENCIES_MS {
        for page_size in PAGE_SIZES {
            if quick && latency_ms > 0 && page_size < 1000 {
                continue;
            }
            for concurrency in CONCURRENCY {
                let row = runtime.block_on(one_run(
                    &data,
                    calendar,
                    window,
                    latency_ms,
                    page_size,
                    concurrency,
                ))?;
                if row.records != expected {
                    bail!(
                        "page size {page_size}, concurrency {concurrency}: fetched {} records, \
                         the files hold {expected}",
                        row.records
                    );
                }
                eprintln!(
                    "latency {latency_ms} ms, page size {page_size}, concurrency {concurrency}: \
                     {:.2} s",
                    row.seconds
                );
                rows.push(row);
            }
        }
    }
    print_table(&rows, expected);
    Ok(())
}

async fn one_run(
    data: &std::path::Path,
    calendar: BusinessCalendar,
    window: DayRange,
    latency_ms: u64,
    page_size: u32,
    concurrency: usize,
) -> anyhow::Result<Row> {
    let server = sandbox::spawn(SandboxOptions {
        port: 0,
        data_dir: data.to_path_buf(),
        client_id: "bench".into(),
        client_secret: SECRET.into(),
        faults: Faults {
            latency_ms,
            ..Faults::default()
        },
    })
    .await?;
    let mut settings =
        FlexitiSettings::new(&server.base_url(), "bench", SecretString::from(SECRET));
    settings.page_size = page_size;
    settings.concurrency = concurrency;
    settings.max_attempts = 1;
    let started = Instant::now();
    let outcome = flexiti::fetch(&settings, calendar, window, XREF).await;
    let seconds = started.elapsed().as_secs_f64();
    server.shutdown().await;
    if let Some(call) = outcome.failed_calls.first() {
        bail!(
            "{} {} failed: {}",
            call.endpoint,
            call.parameters,
            call.message
        );
    }
    Ok(Row {
        latency_ms,
        page_size,
        concurrency,
        records: outcome.stats.records,
        calls: outcome.stats.calls,
        seconds,
    })
}

#[allow(clippy::float_arithmetic)]
fn print_table(rows: &[Row], records: u64) {
    println!();
    println!("{records} records (captures and returns) fetched per run");
    println!();
    println!("| latency per page | page size | concurrency | HTTP calls | wall | records/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} ms | {} | {} | {} | {:.2} s | {:.0} |",
            r.latency_ms,
            r.page_size,
            r.concurrency,
            r.calls,
            r.seconds,
            r.records as f64 / r.seconds
        );
    }
}
