-- Many merchants in one database: a run and a finding belong to one merchant (the config's
-- `merchant`). Failed calls, rejected rows and day totals belong to their run's merchant
-- through `run_id`. Rows stored before this migration get the merchant '' (none): the first
-- merchant to open the upgraded database claims them (docs/DATA.md).
ALTER TABLE runs ADD COLUMN merchant TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_merchant ON runs (merchant, status);

-- A finding's identity is unique per merchant: two merchants may hold the same reference on
-- the same day.
ALTER TABLE discrepancies ADD COLUMN merchant TEXT NOT NULL DEFAULT '';
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_fingerprint_key;
ALTER TABLE discrepancies
    ADD CONSTRAINT discrepancies_merchant_fingerprint_key UNIQUE (merchant, fingerprint);
DROP INDEX discrepancies_day;
CREATE INDEX discrepancies_day ON discrepancies (merchant, business_date, status);

-- The stores a run was restricted to (`run --store`); none for a run over every store. A
-- restricted run replaces the day totals of its stores only.
CREATE TABLE run_stores (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    store  TEXT   NOT NULL,
    PRIMARY KEY (run_id, store)
);
