-- Many merchants in one database: a run and a finding belong to one merchant (the config's
-- `merchant`). Failed calls, rejected rows and day totals belong to their run's merchant
-- through `run_id`. Rows stored before this migration get the merchant '' (none): the first
-- merchant to open the upgraded database claims them (docs/DATA.md).
ALTER TABLE runs ADD COLUMN merchant TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_merchant ON runs (merchant, status);

-- A finding's identity is unique per merchant: two merchants may hold the same reference on
-- the same day. SQLite cannot change a column's UNIQUE constraint in place, so the table is
-- rebuilt with every row and id kept (nothing references it).
CREATE TABLE discrepancies_by_merchant (
    id                   INTEGER PRIMARY KEY,
    merchant             TEXT    NOT NULL DEFAULT '',
    fingerprint          TEXT    NOT NULL,
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
    note                 TEXT,
    suggested_reference  TEXT,
    suggested_id         TEXT,
    suggestion           TEXT,
    UNIQUE (merchant, fingerprint)
);

INSERT INTO discrepancies_by_merchant (id, fingerprint, business_date, category, severity,
    reference, kind, flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass,
    flexiti_id, authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register,
    ledger_at, ledger_file, ledger_line, ledger_id, explanation, status, first_seen_run,
    last_seen_run, first_seen_at, last_seen_at, resolved_run, note, suggested_reference,
    suggested_id, suggestion)
SELECT id, fingerprint, business_date, category, severity, reference, kind,
    flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass, flexiti_id,
    authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register, ledger_at,
    ledger_file, ledger_line, ledger_id, explanation, status, first_seen_run, last_seen_run,
    first_seen_at, last_seen_at, resolved_run, note, suggested_reference, suggested_id,
    suggestion
FROM discrepancies;

DROP TABLE discrepancies;
ALTER TABLE discrepancies_by_merchant RENAME TO discrepancies;

CREATE INDEX discrepancies_day ON discrepancies (merchant, business_date, status);
CREATE INDEX discrepancies_reference ON discrepancies (reference);

-- The stores a run was restricted to (`run --store`); none for a run over every store. A
-- restricted run replaces the day totals of its stores only.
CREATE TABLE run_stores (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    store  TEXT    NOT NULL,
    PRIMARY KEY (run_id, store)
);
