-- otpguard 0011: reading the audit trail back in commit order.
--
-- `written_by` is the id of the transaction that wrote the row, set by the
-- database (the stamping trigger, as it sets `id` and `recorded_at`). A
-- reader that streams every customer's rows (PostgresStore::read_audit)
-- orders them by (written_by, id) and returns only rows of transactions
-- older than every transaction still in flight: a row committed later can
-- then never sort before a row already read, so resuming after the last
-- (written_by, id) read misses nothing. Ordering by `id` alone would: ids
-- are drawn when a row is inserted, not when it commits.
--
-- Rows written before have no transaction id; they are given 0, so they
-- come first. (The append-only trigger is set aside for that one update,
-- in this migration's transaction.)
--
-- `at` gets a BRIN index for reads by time range: rows are appended in
-- roughly increasing `at`, which a BRIN index summarises for a few bytes
-- per block, at almost no cost to each insert.

ALTER TABLE otpguard_audit ADD COLUMN written_by xid8;

ALTER TABLE otpguard_audit DISABLE TRIGGER otpguard_audit_no_update_or_delete;
UPDATE otpguard_audit SET written_by = '0'::xid8 WHERE written_by IS NULL;
ALTER TABLE otpguard_audit ENABLE TRIGGER otpguard_audit_no_update_or_delete;

ALTER TABLE otpguard_audit ALTER COLUMN written_by SET NOT NULL;

CREATE OR REPLACE FUNCTION otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := nextval(pg_get_serial_sequence('otpguard_audit', 'id'));
    NEW.recorded_at := now();
    NEW.written_by := pg_current_xact_id();
    RETURN NEW;
END;
$$;

CREATE INDEX otpguard_audit_stream ON otpguard_audit (written_by, id);
CREATE INDEX otpguard_audit_at ON otpguard_audit USING brin (at);
