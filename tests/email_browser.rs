//! The email as a reader sees it: the HTML part rendered by a real browser (headless Chromium)
//! at a desktop mail pane's width (600 px) and at a phone's (375 px) must not scroll sideways.
//! Screenshots of both are kept under the target folder's `artifacts/email/`.
//!
//! Needs Chromium (`apt-get install -y chromium`); `FLEXITI_CHROMIUM` names another binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use flexiti_recon::domain::{Amount, Category, DayRange, Discrepancy, LedgerReject, Pass};
use flexiti_recon::notify::{RenderOptions, render, render_failure};
use flexiti_recon::report::{ChangeSummary, DayStoreTotals, FailedCall, RunReport, RunStatus};

use common::{day, side};

const LEDGER: &str = "/srv/finance/exports/maple-and-pine/pos-ledger/2026/11/ledger-2026-11-23.csv";

fn finding(
    category: Category,
    reference: &str,
    flexiti: Option<i64>,
    ledger: Option<i64>,
    n: u64,
) -> Discrepancy {
    let explanation = match ledger {
        Some(cents) => format!(
            "ledger {LEDGER}:{} sale {}; no Flexiti capture or refund with this reference \
             within the matching window",
            n + 1,
            Amount::from_cents(cents)
        ),
        None => "Flexiti capture:346123 sale at 2026-11-23T18:42:09+00:00; no ledger row".into(),
    };
    Discrepancy {
        pass: Pass::Leftover,
        flexiti_id: flexiti.map(|_| format!("capture:{n}")),
        ledger_file: ledger.map(|_| LEDGER.to_string()),
        ledger_line: ledger.map(|_| n + 1),
        explanation,
        ..common::finding(category, reference, flexiti, ledger)
    }
}

/// A bad night with everything at its widest: big amounts, long references, long paths,
/// unbroken query strings, many stores.
fn report() -> RunReport {
    let mut discrepancies = Vec::new();
    for n in 0..12u64 {
        let category = [
            Category::AmountMismatch,
            Category::MissingInLedger,
            Category::MissingInFlexiti,
            Category::DateMismatch,
        ][usize::try_from(n % 4).expect("small")];
        let cents = 1_234_567_890 + i64::try_from(n).expect("small") * 1_000;
        let (flexiti, ledger) = match category {
            Category::MissingInLedger => (Some(cents), None),
            Category::MissingInFlexiti => (None, Some(cents)),
            _ => (Some(cents), Some(cents - 1_299)),
        };
        discrepancies.push(finding(
            category,
            &format!("ORD-20261123-{n:06}-WEBSTORE-CHECKOUT-RETRY"),
            flexiti,
            ledger,
            n,
        ));
    }
    let totals = (0..6)
        .map(|i| DayStoreTotals {
            business_date: day(23),
            store: format!("00-1234{i}"),
            flexiti: side(1_234, 123_456_789_012, 1_234_567_890),
            ledger: side(1_235, 123_456_790_311, 1_234_567_890),
        })
        .collect();
    let failed_calls = vec![FailedCall {
        endpoint: "GET /v2.5.1/client-id/{client_id}/captures".into(),
        parameters:
            "creation_date_from=2026-11-24&creation_date_to=2026-11-24&page_number=2&page_size=100"
                .into(),
        http_status: Some(503),
        error_code: Some("service_unavailable_temporarily".into()),
        message: "upstream timed out after 30000 ms while reading the response body".into(),
        attempts: 4,
        duration_ms: 9_000,
        x_reference_id: "5f0c1a2e-8b1d-4c8e-9f7a-0a1b2c3d4e5f".into(),
        utc_date: Some(day(24)),
    }];
    let rejects = (1..=3)
        .map(|i| LedgerReject {
            file: LEDGER.into(),
            line: i + 1,
            reason: format!("field 'amount': '12,34{i}.5O' is not an amount"),
            raw: format!("ORD-{i};2026-11-23;12,34{i}.5O;flexiti"),
        })
        .collect();
    RunReport {
        run_id: 42,
        range: DayRange::single(day(23)),
        trigger: "cron".into(),
        started_at: Utc
            .with_ymd_and_hms(2026, 11, 24, 7, 0, 0)
            .single()
            .expect("start"),
        finished_at: Utc
            .with_ymd_and_hms(2026, 11, 24, 7, 1, 30)
            .single()
            .expect("end"),
        x_reference_id: "5f0c1a2e-run".into(),
        status: RunStatus::Partial,
        changes: ChangeSummary {
            new: Vec::new(),
            still_open: vec![(discrepancies[1].fingerprint(), 12)],
            resolved_count: 0,
            resolved: Vec::new(),
        },
        discrepancies,
        totals,
        failed_calls,
        rejects,
        ignored_other_tender: 7,
        incomplete_days: vec![day(23)],
        flexiti_records: 1_234,
        ledger_rows: 1_235,
        matched_pairs: 1_222,
    }
}

fn options() -> RenderOptions {
    RenderOptions {
        merchant_name: "Maple & Pine Furniture — Magasin Montréal-Est".into(),
        ..RenderOptions::default()
    }
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .join("artifacts")
        .join("email");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn chromium() -> String {
    if let Ok(bin) = std::env::var("FLEXITI_CHROMIUM") {
        return bin;
    }
    for bin in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return bin.to_string();
        }
    }
    panic!("no Chromium found: the email layout test needs it (apt-get install -y chromium)");
}

/// Runs headless Chromium with `args` and a fresh profile; its stdout.
fn run_chromium(args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdout(out.reopen().expect("stdout"))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("chromium wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("chromium did not finish within 90 s: {args:?}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    std::fs::read_to_string(out.path()).expect("chromium output")
}

/// What the browser measured of a page laid out in a viewport `width` px wide.
#[derive(Debug)]
struct Probe {
    viewport: u32,
    scroll_width: u32,
    height: u32,
    /// The element reaching furthest right, and where its right edge is.
    widest: String,
    right: u32,
}

// Runs inside the email's frame and writes what it measured into the page around it.
const PROBE: &str = r#"<script>
(function () {
  var widest = '', right = 0;
  var all = document.body.getElementsByTagName('*');
  for (var i = 0; i < all.length; i++) {
    var r = all[i].getBoundingClientRect();
    if (r.right > right) {
      right = r.right;
      widest = all[i].tagName + ': ' + (all[i].textContent || '').slice(0, 80);
    }
  }
  var probe = parent.document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = [document.documentElement.clientWidth,
    document.documentElement.scrollWidth, document.documentElement.scrollHeight,
    Math.ceil(right), widest].join('|');
  parent.document.body.appendChild(probe);
})();
</script>"#;

/// Headless Chromium keeps its window at least 500 px wide, so the email is laid out in a frame
/// of exactly `width` px (a mail pane, a phone screen); the page around it is grey.
fn framed(html: &str, width: u32, height: u32) -> String {
    let srcdoc = html.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<!DOCTYPE html><html><body style=\"margin:0;background:#c8c8c8\">\
         <iframe style=\"display:block;border:0;width:{width}px;height:{height}px;\
         background:#fff\" srcdoc=\"{srcdoc}\"></iframe></body></html>"
    )
}

fn window_width(width: u32) -> u32 {
    width.max(500)
}

fn probe(html: &str, width: u32, name: &str) -> Probe {
    let page = artifacts().join(format!("{name}-probe.html"));
    let probed = match html.rfind("</body>") {
        Some(at) => format!("{}{PROBE}{}", &html[..at], &html[at..]),
        None => format!("{html}{PROBE}"),
    };
    std::fs::write(&page, framed(&probed, width, 900)).expect("probe page");
    let dom = run_chromium(&[
        format!("--window-size={},900", window_width(width)),
        "--dump-dom".into(),
        format!("file://{}", page.display()),
    ]);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").expect("probe end");
    let fields: Vec<&str> = dom[start..end].splitn(5, '|').collect();
    let num = |i: usize| -> u32 { fields[i].parse().expect("a number") };
    Probe {
        viewport: num(0),
        scroll_width: num(1),
        height: num(2),
        right: num(3),
        widest: fields[4].to_string(),
    }
}

fn screenshot(html: &str, width: u32, height: u32, name: &str) -> PathBuf {
    let height = height.clamp(200, 16_000);
    let page = artifacts().join(format!("{name}.html"));
    std::fs::write(&page, framed(html, width, height)).expect("page");
    let png = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    run_chromium(&[
        format!("--window-size={},{height}", window_width(width)),
        format!("--screenshot={}", png.display()),
        format!("file://{}", page.display()),
    ]);
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        png.display()
    );
    // The PNG's IHDR holds the width and height, big-endian, at bytes 16..24.
    let shot_width = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
    assert_eq!(shot_width, window_width(width), "screenshot width");
    png
}

fn assert_fits(html: &str, name: &str) {
    for width in [600, 375] {
        let p = probe(html, width, &format!("{name}-{width}"));
        assert_eq!(
            p.viewport, width,
            "the browser laid the page out {width} px wide"
        );
        assert!(
            p.scroll_width <= width && p.right <= width,
            "{name} at {width} px scrolls sideways: document {} px, widest element \
             reaches {} px: {}",
            p.scroll_width,
            p.right,
            p.widest
        );
        let png = screenshot(html, width, p.height, &format!("{name}-{width}"));
        println!("screenshot: {}", png.display());
    }
}

#[test]
fn the_probe_sees_a_page_that_scrolls_sideways_at_the_width_of_the_frame() {
    let wide = "<!DOCTYPE html><html><body><div style=\"width:450px\">450 px</div></body></html>";
    let phone = probe(wide, 375, "control-375");
    assert_eq!(phone.viewport, 375);
    assert!(phone.scroll_width > 375 && phone.right > 375, "{phone:?}");
    let pane = probe(wide, 600, "control-600");
    assert_eq!(pane.viewport, 600);
    assert!(pane.scroll_width <= 600 && pane.right <= 600, "{pane:?}");
}

#[test]
fn the_run_email_fits_a_mail_pane_and_a_phone_without_sideways_scrolling() {
    let email = render(&report(), &options()).expect("render");
    assert_fits(&email.html, "email");
}

#[test]
fn the_failure_alert_fits_a_mail_pane_and_a_phone() {
    let email = render_failure(
        DayRange::new(day(22), day(23)),
        &format!("ledger file {LEDGER}: header has no 'amount' column"),
        "5f0c1a2e-8b1d-4c8e-9f7a-0a1b2c3d4e5f",
        &options(),
    );
    assert_fits(&email.html, "failure");
}

#[test]
fn the_email_opens_with_the_status_line_names_files_by_name_and_uses_inline_styles_only() {
    let email = render(&report(), &options()).expect("render");
    let first = email.text.lines().nth(2).expect("a line under the title");
    assert_eq!(
        first,
        "[ACTION NEEDED] Partial run: net difference +77.94 CAD (ledger minus Flexiti), \
         9 errors, 1 failed API call."
    );
    let html = &email.html;
    let status = html.find("ACTION NEEDED").expect("status in html");
    let summary = html.find("Summary").expect("summary section");
    assert!(status < summary, "the status line comes first");
    assert!(html.contains("background:#fde7e9"), "errors shown in red");
    assert!(html.contains("border:1px solid #c62828"), "error badges");
    assert!(html.contains("border:1px solid #e08a00"), "warning badges");
    for body in [&email.text, html] {
        assert!(!body.contains("/srv/finance"), "no absolute path:\n{body}");
        assert!(
            body.contains("ledger ledger-2026-11-23.csv:1 sale"),
            "{body}"
        );
        assert!(body.contains("ledger-2026-11-23.csv:2: field"), "{body}");
    }
    assert!(
        !html.contains("<style"),
        "no style sheet: clients drop them"
    );
    assert!(!html.contains("class="), "no classes: clients drop them");

    let mut clean = report();
    clean.status = RunStatus::Succeeded;
    clean.discrepancies.clear();
    clean.failed_calls.clear();
    clean.rejects.clear();
    clean.incomplete_days.clear();
    clean.changes = ChangeSummary::default();
    clean.totals.iter_mut().for_each(|t| t.ledger = t.flexiti);
    let email = render(&clean, &options()).expect("render");
    assert_eq!(
        email.text.lines().nth(2),
        Some(
            "[OK] Succeeded run: net difference 0.00 CAD (ledger minus Flexiti), 0 errors, \
             0 failed API calls."
        )
    );
    assert!(
        email.html.contains("background:#e6f4ea"),
        "all clear in green"
    );
}
