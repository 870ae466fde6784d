-- otpguard 0011: reading the audit trail back in commit order.
--
-- `written_by` is the id of the transaction that wrote the row, set by the
-- database: by the stamping trigger, as it sets `id` and `recorded_at`,
-- and by the column's default for a row inserted with the triggers off. A
-- reader that streams every customer's rows (PostgresStore::read_audit)
-- orders them by (written_by, id) and returns only rows of transactions
-- older than every transaction still in flight: a row committed later can
-- then never sort before a row already read, so resuming after the last
-- (written_by, id) read misses nothing. Ordering by `id` alone would: ids
-- are drawn when a row is inserted, not when it commits.
--
-- Rows written before have no transaction id and read as 0, so they come
-- first. They are left as they are: no rewrite of a table that may hold
-- years of rows, and the append-only rule is not set aside. From now on no
-- row is written without one (NOT VALID: the check applies to every
-- insert, not to the rows already there).
--
-- `at` gets a BRIN index for reads by time range: rows are appended in
-- roughly increasing `at`, which a BRIN index summarises for a few bytes
-- per block, at almost no cost to each insert.

ALTER TABLE otpguard_audit
    ADD COLUMN written_by xid8,
    ADD CONSTRAINT otpguard_audit_written_by CHECK (written_by IS NOT NULL) NOT VALID;

ALTER TABLE otpguard_audit ALTER COLUMN written_by SET DEFAULT pg_current_xact_id();

-- The stamping trigger names every function it calls with its schema
-- (pg_catalog) and its own table by the trigger's schema, so a session
-- whose search_path puts a schema of its own first cannot put functions of
-- its own in their place.
CREATE OR REPLACE FUNCTION otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := pg_catalog.nextval(pg_catalog.pg_get_serial_sequence(
        pg_catalog.format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), 'id'));
    NEW.recorded_at := pg_catalog.now();
    NEW.written_by := pg_catalog.pg_current_xact_id();
    RETURN NEW;
END;
$$;

-- Every per-customer read goes by the chain's index (customer_id, link):
-- the trail in order, its head, the row before it, the last version it
-- committed. The index by (customer_id, version, id) of schema 2 is left
-- to no reader, and costs every insert; it goes.
DROP INDEX otpguard_audit_by_customer;

CREATE INDEX otpguard_audit_stream
    ON otpguard_audit ((coalesce(written_by, '0'::xid8)), id);
CREATE INDEX otpguard_audit_at ON otpguard_audit USING brin (at);
