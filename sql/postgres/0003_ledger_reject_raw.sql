-- The rejected ledger row itself, beside its reason (fields rejoined with the file's delimiter,
-- account-like numbers masked, bounded in length). Rows rejected before this column existed
-- keep an empty text.
ALTER TABLE ledger_rejects ADD COLUMN raw TEXT NOT NULL DEFAULT '';
