-- The likely counterpart of an unmatched finding (advice: never part of the fingerprint).
ALTER TABLE discrepancies ADD COLUMN suggested_reference TEXT;
ALTER TABLE discrepancies ADD COLUMN suggested_id TEXT;
ALTER TABLE discrepancies ADD COLUMN suggestion TEXT;
