-- Runs, findings and per-run details: the same schema as sql/sqlite, column for column, so one
-- set of queries serves both backends. Dates are ISO `YYYY-MM-DD` text, instants RFC 3339 UTC
-- text with nanoseconds (fixed width, so text order is time order), money BIGINT cents.

CREATE TABLE runs (
    id                    BIGSERIAL PRIMARY KEY,
    range_from            TEXT    NOT NULL,
    range_to              TEXT    NOT NULL,
    triggered_by          TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'abandoned')),
    started_at            TEXT    NOT NULL,
    finished_at           TEXT,
    duration_ms           BIGINT,
    x_reference_id        TEXT    NOT NULL,
    version               TEXT    NOT NULL,
    error                 TEXT,
    flexiti_records       BIGINT  NOT NULL DEFAULT 0,
    ledger_rows           BIGINT  NOT NULL DEFAULT 0,
    matched_pairs         BIGINT  NOT NULL DEFAULT 0,
    discrepancies         BIGINT  NOT NULL DEFAULT 0,
    failed_calls          BIGINT  NOT NULL DEFAULT 0,
    rejected_rows         BIGINT  NOT NULL DEFAULT 0,
    ignored_rows          BIGINT  NOT NULL DEFAULT 0,
    incomplete_days       TEXT    NOT NULL DEFAULT '',
    flexiti_count         BIGINT  NOT NULL DEFAULT 0,
    flexiti_sales_cents   BIGINT  NOT NULL DEFAULT 0,
    flexiti_returns_cents BIGINT  NOT NULL DEFAULT 0,
    ledger_count          BIGINT  NOT NULL DEFAULT 0,
    ledger_sales_cents    BIGINT  NOT NULL DEFAULT 0,
    ledger_returns_cents  BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX runs_status ON runs (status, finished_at);

CREATE TABLE discrepancies (
    id                   BIGSERIAL PRIMARY KEY,
    fingerprint          TEXT    NOT NULL UNIQUE,
    business_date        TEXT    NOT NULL,
    category             TEXT    NOT NULL,
    severity             TEXT    NOT NULL,
    reference            TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    flexiti_amount_cents BIGINT,
    ledger_amount_cents  BIGINT,
    delta_cents          BIGINT  NOT NULL,
    day_delta            BIGINT,
    pass                 TEXT    NOT NULL,
    flexiti_id           TEXT,
    authorization_id     BIGINT,
    flexiti_store        TEXT,
    flexiti_at           TEXT,
    ledger_store         TEXT,
    ledger_register      TEXT,
    ledger_at            TEXT,
    ledger_file          TEXT,
    ledger_line          BIGINT,
    ledger_id            TEXT,
    explanation          TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('open', 'resolved', 'acknowledged')),
    first_seen_run       BIGINT  NOT NULL REFERENCES runs (id),
    last_seen_run        BIGINT  NOT NULL REFERENCES runs (id),
    first_seen_at        TEXT    NOT NULL,
    last_seen_at         TEXT    NOT NULL,
    resolved_run         BIGINT  REFERENCES runs (id),
    note                 TEXT
);

CREATE INDEX discrepancies_day ON discrepancies (business_date, status);
CREATE INDEX discrepancies_reference ON discrepancies (reference);

CREATE TABLE api_failures (
    id             BIGSERIAL PRIMARY KEY,
    run_id         BIGINT  NOT NULL REFERENCES runs (id),
    endpoint       TEXT    NOT NULL,
    parameters     TEXT    NOT NULL,
    http_status    BIGINT,
    error_code     TEXT,
    message        TEXT    NOT NULL,
    attempts       BIGINT  NOT NULL,
    duration_ms    BIGINT  NOT NULL,
    x_reference_id TEXT    NOT NULL,
    utc_date       TEXT
);

CREATE INDEX api_failures_run ON api_failures (run_id);

CREATE TABLE ledger_rejects (
    id     BIGSERIAL PRIMARY KEY,
    run_id BIGINT  NOT NULL REFERENCES runs (id),
    file   TEXT    NOT NULL,
    line   BIGINT  NOT NULL,
    reason TEXT    NOT NULL
);

CREATE INDEX ledger_rejects_run ON ledger_rejects (run_id);

CREATE TABLE day_totals (
    run_id                BIGINT  NOT NULL REFERENCES runs (id),
    business_date         TEXT    NOT NULL,
    store                 TEXT    NOT NULL,
    flexiti_count         BIGINT  NOT NULL,
    flexiti_sales_cents   BIGINT  NOT NULL,
    flexiti_returns_cents BIGINT  NOT NULL,
    ledger_count          BIGINT  NOT NULL,
    ledger_sales_cents    BIGINT  NOT NULL,
    ledger_returns_cents  BIGINT  NOT NULL,
    PRIMARY KEY (run_id, business_date, store)
);

CREATE INDEX day_totals_day ON day_totals (business_date);
