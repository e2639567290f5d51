-- Storing a run's findings fast (docs/DATA.md, "Write speed").
--
-- A finding's run columns (first_seen_run, last_seen_run, resolved_run) are written only by the
-- store, with the id of the run whose transaction writes them, and runs are never deleted: the
-- foreign keys to runs guarded nothing the store does not, and cost a check per row on every
-- insert and on every rerun's update (about 40% of storing 100k new findings).
ALTER TABLE discrepancies DROP CONSTRAINT IF EXISTS discrepancies_first_seen_run_fkey;
ALTER TABLE discrepancies DROP CONSTRAINT IF EXISTS discrepancies_last_seen_run_fkey;
ALTER TABLE discrepancies DROP CONSTRAINT IF EXISTS discrepancies_resolved_run_fkey;

-- A rerun updates every finding it sees again (last_seen_run, last_seen_at) and none of the
-- indexed columns: with room left on each page, PostgreSQL updates the row in place (a HOT
-- update) instead of adding an entry to each of the four indexes. Applies to pages written from
-- now on.
ALTER TABLE discrepancies SET (fillfactor = 60);
