//! A hand-made week of a Toronto merchant for the Flexiti client's tests: capture 346123 on
//! Nov 23 with a return on Nov 24 (so it is listed on both UTC dates), two captures of 1000.12
//! spelled as a string and as a number, a capture whose authorization predates the window (it
//! must be looked up), and an authorization never captured.

use flexiti_recon::domain::DayRange;
use flexiti_recon::flexiti::{FetchOutcome, FlexitiSettings};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{CLIENT_ID, day, fetch};

pub fn week_captures() -> Vec<Value> {
    vec![
        json!({"capture_id":346123,"authorization_id":"4821907733105521","reference":"ORD-1",
            "date":"2026-11-23T18:42:09Z","amount":"1000.12","external_location_id":"00-11111",
            "returns":[{"return_id":"9000000000123456","capture_id":346123,"reference":"ORD-1",
                        "date":"2026-11-24T15:05:44.250Z","amount":200.00,"remaining_capture_amount":"800.12"}]}),
        json!({"capture_id":"346124","authorization_id":4_821_907_733_105_522_u64,"reference":"ORD-2",
            "date":"2026-11-23T23:10:00Z","amount":1000.12,"external_location_id":"00-22222"}),
        json!({"capture_id":346125,"authorization_id":77,"reference":"ORD-3",
            "date":"2026-11-23T20:00:00Z","amount":"15.5","external_location_id":"cap-store"}),
        json!({"capture_id":346126,"authorization_id":4_821_907_733_105_523_u64,"reference":"ORD-4",
            "date":"2026-11-22T16:00:00Z","amount":"0.30"}),
    ]
}

pub fn week_authorizations() -> Vec<Value> {
    let a = |id: u64, reference: &str, created: &str, store: &str| {
        json!({"authorization_id":id,"reference":reference,"account_number":"20076677",
               "transaction_type":"promotional_purchase","authorization_status":"closed",
               "creation_date":created,"amount":"1000.12","external_location_id":store,"plan_id":4})
    };
    vec![
        a(
            4821907733105523,
            "ORD-4",
            "2026-11-22T15:59:00Z",
            "00-44444",
        ),
        a(
            4821907733105521,
            "ORD-1",
            "2026-11-23T18:42:07Z",
            "00-12345",
        ),
        a(
            4821907733105522,
            "ORD-2",
            "2026-11-23T23:09:00Z",
            "00-22222",
        ),
        a(555, "ORD-NEVER", "2026-11-24T12:00:00Z", "00-12345"),
        // Only looked up: created long before the window.
        a(77, "ORD-3", "2026-10-01T12:00:00Z", "00-77777"),
    ]
}

/// The week as a data set folder (`flexiti/captures.json`, `flexiti/authorizations.json`).
pub fn week_dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let flexiti = dir.path().join("flexiti");
    std::fs::create_dir_all(&flexiti).expect("flexiti dir");
    for (name, items) in [
        ("captures.json", week_captures()),
        ("authorizations.json", week_authorizations()),
    ] {
        std::fs::write(flexiti.join(name), Value::Array(items).to_string()).expect("write");
    }
    dir
}

/// Nov 22 to 24 in Toronto: UTC Nov 22 to 25.
pub fn week_window() -> DayRange {
    DayRange::new(day("2026-11-22"), day("2026-11-24"))
}

/// Pages of two, so Nov 23 takes two; three attempts with quick retries.
pub fn week_settings(base: &str, secret: &str) -> FlexitiSettings {
    let mut s = FlexitiSettings::new(base, CLIENT_ID, SecretString::from(secret.to_string()));
    s.page_size = 2;
    s.concurrency = 3;
    s.max_attempts = 3;
    s.backoff_base_ms = 1;
    s.backoff_cap_ms = 20;
    s.timeout_secs = 5;
    s
}

/// The client's fetch of the week.
pub async fn fetch_week(settings: &FlexitiSettings) -> FetchOutcome {
    fetch(settings, week_window()).await
}
