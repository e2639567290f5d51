-- Finding a run's findings again fast (docs/DATA.md, "How a run's results are written"). The
-- same column and index as on PostgreSQL (sql/postgres/0008_finding_digest.sql).
--
-- value_digest: a digest of the values a run writes into a finding (src/store/digest.rs),
-- written with them; NULL for a row from before this migration.
ALTER TABLE discrepancies ADD COLUMN value_digest TEXT;

-- The day index without the status: resolving a finding no longer rewrites an index entry.
DROP INDEX discrepancies_day;
CREATE INDEX discrepancies_day ON discrepancies (merchant, business_date);
