-- Runs, findings and per-run details. Dates are ISO `YYYY-MM-DD` text, instants RFC 3339 UTC
-- text with nanoseconds (fixed width, so text order is time order), money integer cents.

CREATE TABLE runs (
    id                    INTEGER PRIMARY KEY,
    range_from            TEXT    NOT NULL,
    range_to              TEXT    NOT NULL,
    triggered_by          TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'abandoned')),
    started_at            TEXT    NOT NULL,
    finished_at           TEXT,
    duration_ms           INTEGER,
    x_reference_id        TEXT    NOT NULL,
    version               TEXT    NOT NULL,
    error                 TEXT,
    flexiti_records       INTEGER NOT NULL DEFAULT 0,
    ledger_rows           INTEGER NOT NULL DEFAULT 0,
    matched_pairs         INTEGER NOT NULL DEFAULT 0,
    discrepancies         INTEGER NOT NULL DEFAULT 0,
    failed_calls          INTEGER NOT NULL DEFAULT 0,
    rejected_rows         INTEGER NOT NULL DEFAULT 0,
    ignored_rows          INTEGER NOT NULL DEFAULT 0,
    incomplete_days       TEXT    NOT NULL DEFAULT '',
    flexiti_count         INTEGER NOT NULL DEFAULT 0,
    flexiti_sales_cents   INTEGER NOT NULL DEFAULT 0,
    flexiti_returns_cents INTEGER NOT NULL DEFAULT 0,
    ledger_count          INTEGER NOT NULL DEFAULT 0,
    ledger_sales_cents    INTEGER NOT NULL DEFAULT 0,
    ledger_returns_cents  INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX runs_status ON runs (status, finished_at);

CREATE TABLE discrepancies (
    id                   INTEGER PRIMARY KEY,
    fingerprint          TEXT    NOT NULL UNIQUE,
    business_date        TEXT    NOT NULL,
    category             TEXT    NOT NULL,
    severity             TEXT    NOT NULL,
    reference            TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    flexiti_amount_cents INTEGER,
    ledger_amount_cents  INTEGER,
    delta_cents          INTEGER NOT NULL,
    day_delta            INTEGER,
    pass                 TEXT    NOT NULL,
    flexiti_id           TEXT,
    authorization_id     INTEGER,
    flexiti_store        TEXT,
    flexiti_at           TEXT,
    ledger_store         TEXT,
    ledger_register      TEXT,
    ledger_at            TEXT,
    ledger_file          TEXT,
    ledger_line          INTEGER,
    ledger_id            TEXT,
    explanation          TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('open', 'resolved', 'acknowledged')),
    first_seen_run       INTEGER NOT NULL REFERENCES runs (id),
    last_seen_run        INTEGER NOT NULL REFERENCES runs (id),
    first_seen_at        TEXT    NOT NULL,
    last_seen_at         TEXT    NOT NULL,
    resolved_run         INTEGER REFERENCES runs (id),
    note                 TEXT
);

CREATE INDEX discrepancies_day ON discrepancies (business_date, status);
CREATE INDEX discrepancies_reference ON discrepancies (reference);

CREATE TABLE api_failures (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    endpoint       TEXT    NOT NULL,
    parameters     TEXT    NOT NULL,
    http_status    INTEGER,
    error_code     TEXT,
    message        TEXT    NOT NULL,
    attempts       INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    x_reference_id TEXT    NOT NULL,
    utc_date       TEXT
);

CREATE INDEX api_failures_run ON api_failures (run_id);

CREATE TABLE ledger_rejects (
    id     INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    file   TEXT    NOT NULL,
    line   INTEGER NOT NULL,
    reason TEXT    NOT NULL
);

CREATE INDEX ledger_rejects_run ON ledger_rejects (run_id);

CREATE TABLE day_totals (
    run_id                INTEGER NOT NULL REFERENCES runs (id),
    business_date         TEXT    NOT NULL,
    store                 TEXT    NOT NULL,
    flexiti_count         INTEGER NOT NULL,
    flexiti_sales_cents   INTEGER NOT NULL,
    flexiti_returns_cents INTEGER NOT NULL,
    ledger_count          INTEGER NOT NULL,
    ledger_sales_cents    INTEGER NOT NULL,
    ledger_returns_cents  INTEGER NOT NULL,
    PRIMARY KEY (run_id, business_date, store)
);

CREATE INDEX day_totals_day ON day_totals (business_date);
