-- Views for people querying the database (psql, a BI tool), in PostgreSQL's own types: DATE
-- for business days, TIMESTAMPTZ for instants, NUMERIC(18,2) for money beside the exact
-- BIGINT cents. The tables keep the text and integer columns the job reads and writes through
-- one set of queries for both backends (docs/DATA.md); these checks keep their content what
-- the views cast.

ALTER TABLE runs ADD CONSTRAINT runs_days_are_dates
    CHECK (range_from ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND range_to ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
           AND range_from <= range_to);
ALTER TABLE runs ADD CONSTRAINT runs_counts_are_not_negative
    CHECK (flexiti_records >= 0 AND ledger_rows >= 0 AND matched_pairs >= 0
           AND discrepancies >= 0 AND failed_calls >= 0 AND rejected_rows >= 0
           AND ignored_rows >= 0 AND flexiti_count >= 0 AND ledger_count >= 0
           AND (duration_ms IS NULL OR duration_ms >= 0));
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_day_is_a_date
    CHECK (business_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$');
ALTER TABLE day_totals ADD CONSTRAINT day_totals_day_is_a_date
    CHECK (business_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$');
ALTER TABLE day_totals ADD CONSTRAINT day_totals_counts_are_not_negative
    CHECK (flexiti_count >= 0 AND ledger_count >= 0);
ALTER TABLE api_failures ADD CONSTRAINT api_failures_attempts_are_not_negative
    CHECK (attempts >= 0 AND duration_ms >= 0);

-- Every open finding, with its age in days (today, UTC, less its business day).
CREATE VIEW open_discrepancies AS
SELECT d.merchant,
       d.id,
       d.business_date::date                                     AS business_date,
       ((now() AT TIME ZONE 'UTC')::date - d.business_date::date) AS age_days,
       d.category,
       d.severity,
       d.reference,
       d.kind,
       COALESCE(d.ledger_store, d.flexiti_store)                  AS store,
       d.flexiti_amount_cents,
       d.ledger_amount_cents,
       d.delta_cents,
       (d.delta_cents::numeric / 100)::numeric(18, 2)             AS delta,
       d.first_seen_run,
       d.first_seen_at::timestamptz                               AS first_seen_at,
       d.last_seen_at::timestamptz                                AS last_seen_at,
       d.explanation
FROM discrepancies d
WHERE d.status = 'open';

-- The control totals per merchant, day and store, each from the latest succeeded or partial run
-- covering that day and store (a `run --store` run covers only its stores): what `export`
-- reports as the summary.
CREATE VIEW latest_day_totals AS
SELECT r.merchant,
       t.business_date::date AS business_date,
       t.store,
       t.run_id,
       t.flexiti_count,
       t.flexiti_sales_cents,
       t.flexiti_returns_cents,
       t.ledger_count,
       t.ledger_sales_cents,
       t.ledger_returns_cents,
       ((t.flexiti_sales_cents::numeric - t.flexiti_returns_cents) / 100)::numeric(18, 2)
           AS flexiti_net,
       ((t.ledger_sales_cents::numeric - t.ledger_returns_cents) / 100)::numeric(18, 2)
           AS ledger_net,
       ((t.flexiti_sales_cents::numeric - t.flexiti_returns_cents - t.ledger_sales_cents
         + t.ledger_returns_cents) / 100)::numeric(18, 2) AS difference
FROM day_totals t
JOIN runs r ON r.id = t.run_id
WHERE t.run_id = (
    SELECT MAX(l.id) FROM runs l
    WHERE l.merchant = r.merchant
      AND l.range_from <= t.business_date AND l.range_to >= t.business_date
      AND l.status IN ('succeeded', 'partial')
      AND (NOT EXISTS (SELECT 1 FROM run_stores s WHERE s.run_id = l.id)
           OR EXISTS (SELECT 1 FROM run_stores s WHERE s.run_id = l.id AND s.store = t.store)));

-- Per merchant and night (the UTC date a run started): how many runs, and how many Flexiti
-- calls failed after their retries. Nights whose runs had no failure count 0.
CREATE VIEW failed_calls_per_night AS
SELECT r.merchant,
       (r.started_at::timestamptz AT TIME ZONE 'UTC')::date AS night,
       COUNT(DISTINCT r.id)                                  AS runs,
       COUNT(f.id)                                           AS failed_calls
FROM runs r
LEFT JOIN api_failures f ON f.run_id = r.id
GROUP BY r.merchant, (r.started_at::timestamptz AT TIME ZONE 'UTC')::date;
