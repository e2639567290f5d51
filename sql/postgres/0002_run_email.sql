-- The state of a run's summary email: NULL (none due, or a run older than this column),
-- 'pending' (stored before sending: it stays so if the process dies while sending),
-- 'sent', 'failed' (the run is then partial), 'unsent' (a later run found it pending).
ALTER TABLE runs ADD COLUMN email TEXT;
