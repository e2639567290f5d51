-- Views for people querying the database, the same names and columns as on PostgreSQL, in the
-- types SQLite has: business days and instants stay ISO text (text order is time order), money
-- stays integer cents (SQLite has no exact decimal type).

-- Every open finding, with its age in days (today, UTC, less its business day).
CREATE VIEW open_discrepancies AS
SELECT d.merchant,
       d.id,
       d.business_date,
       CAST(julianday(date('now')) - julianday(d.business_date) AS INTEGER) AS age_days,
       d.category,
       d.severity,
       d.reference,
       d.kind,
       COALESCE(d.ledger_store, d.flexiti_store) AS store,
       d.flexiti_amount_cents,
       d.ledger_amount_cents,
       d.delta_cents,
       d.first_seen_run,
       d.first_seen_at,
       d.last_seen_at,
       d.explanation
FROM discrepancies d
WHERE d.status = 'open';

-- The control totals per merchant, day and store, each from the latest succeeded or partial run
-- covering that day and store (a `run --store` run covers only its stores).
CREATE VIEW latest_day_totals AS
SELECT r.merchant,
       t.business_date,
       t.store,
       t.run_id,
       t.flexiti_count,
       t.flexiti_sales_cents,
       t.flexiti_returns_cents,
       t.ledger_count,
       t.ledger_sales_cents,
       t.ledger_returns_cents
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
-- calls failed after their retries.
CREATE VIEW failed_calls_per_night AS
SELECT r.merchant,
       substr(r.started_at, 1, 10) AS night,
       COUNT(DISTINCT r.id)        AS runs,
       COUNT(f.id)                 AS failed_calls
FROM runs r
LEFT JOIN api_failures f ON f.run_id = r.id
GROUP BY r.merchant, substr(r.started_at, 1, 10);
