-- Finding a run's findings again fast (docs/DATA.md, "How a run's results are written").
--
-- value_digest: a digest of the values a run writes into a finding (src/store/digest.rs), written
-- with them. A rerun reads it to tell a finding found again unchanged, which needs only its
-- last_seen_* written, from one whose values moved; NULL (a row from before this migration)
-- reads as moved, and the upsert that rewrites the row writes its digest.
ALTER TABLE discrepancies ADD COLUMN value_digest TEXT;

-- The day index without the status: resolving a finding changes only its status, which no index
-- holds any more, so PostgreSQL updates the row in place (a HOT update, where its page has room)
-- instead of adding an entry to every index. Queries on a status read it from the row, among one
-- day's findings.
DROP INDEX discrepancies_day;
CREATE INDEX discrepancies_day ON discrepancies (merchant, business_date);
--
-- The fillfactor stays at 60 (0007): at 40 a rerun's updates all stayed on their page, but the
-- table grew past what the server keeps in memory and storing new findings got slower by more
-- than reruns got faster (measured with bench/store.sh).
