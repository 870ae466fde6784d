-- otpguard 0012: the audit trail partitioned by month, and history that
-- leaves only by detaching its oldest partition.
--
-- Declarative partitioning allows no unique index without the partition
-- key, so the chain's unique position (customer_id, link), which kept two
-- writers from linking rows at the same place, moves to a row per
-- customer: `otpguard_audit_heads` holds the position of the customer's
-- last row, and the stamping trigger moves it from the position before
-- the row it stamps to the row's own, in the inserting transaction. A row
-- at a position already taken finds the head elsewhere and is refused
-- with the same unique violation as before (constraint
-- `otpguard_audit_chain`): the second writer's statement rolls back and
-- it decides again. The heads are never read to decide anything; the
-- trail itself is.
--
-- `otpguard_audit_floors` holds, for each customer whose early rows were
-- detached, the position and link of the last row that left, MACed: the
-- first row still in the database links to it, so a floor cannot be
-- edited, moved back or dropped without breaking the chain at that row,
-- nor made up without the key.
--
-- The existing table becomes the first partition (`otpguard_audit_history`,
-- every `at` before the first month after both now and its newest row),
-- scanned once as it is attached; PostgresStore::prepare_audit_partitions
-- creates the months after it. Its triggers, identity and unique index go
-- (the partitioned table's triggers and indexes take their place); its
-- rows are not touched.

-- No writer may insert while the heads are read from the trail and the
-- table is rebuilt around it.
LOCK TABLE otpguard_audit IN ACCESS EXCLUSIVE MODE;

CREATE TABLE otpguard_audit_heads (
    customer_id text   PRIMARY KEY,
    link        bigint NOT NULL CHECK (link > 0)
);

INSERT INTO otpguard_audit_heads (customer_id, link)
    SELECT customer_id, max(link) FROM otpguard_audit
    WHERE link IS NOT NULL GROUP BY customer_id;

CREATE TABLE otpguard_audit_floors (
    customer_id text   PRIMARY KEY,
    link        bigint NOT NULL CHECK (link > 0),
    chain       bytea  NOT NULL CHECK (octet_length(chain) = 37),
    -- The `at` below which this customer's rows were detached.
    boundary    bigint NOT NULL,
    -- A MAC under the sealer's key, in a domain of its own, over the
    -- customer, link, chain and boundary, made as the rows left: a floor
    -- cannot be made up for a trail whose first rows were deleted.
    mac         bytea  NOT NULL
);

DROP TRIGGER otpguard_audit_stamp ON otpguard_audit;
DROP TRIGGER otpguard_audit_no_update_or_delete ON otpguard_audit;
DROP TRIGGER otpguard_audit_no_truncate ON otpguard_audit;
ALTER TABLE otpguard_audit RENAME TO otpguard_audit_history;
ALTER INDEX otpguard_audit_pkey RENAME TO otpguard_audit_history_pkey;
ALTER INDEX otpguard_audit_at RENAME TO otpguard_audit_history_at;
ALTER INDEX otpguard_audit_notices RENAME TO otpguard_audit_history_notices;
ALTER INDEX otpguard_audit_stream RENAME TO otpguard_audit_history_stream;

CREATE SEQUENCE otpguard_audit_id AS bigint;
SELECT pg_catalog.setval('otpguard_audit_id',
    coalesce((SELECT max(id) FROM otpguard_audit_history), 0) + 1, false);
ALTER TABLE otpguard_audit_history ALTER COLUMN id DROP IDENTITY;

CREATE TABLE otpguard_audit (LIKE otpguard_audit_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (at);
-- The two NOT VALID checks of schemas 10 and 11 (no row without a link and
-- a reason code, or without its transaction) stay on the history partition
-- alone, where older rows break them; a partitioned table cannot hold a
-- check its partition does not validate. Every month's partition gets both,
-- valid (otpguard_audit_prepare below).
ALTER TABLE otpguard_audit
    DROP CONSTRAINT otpguard_audit_linked,
    DROP CONSTRAINT otpguard_audit_written_by;
ALTER SEQUENCE otpguard_audit_id OWNED BY otpguard_audit.id;
ALTER TABLE otpguard_audit ALTER COLUMN id SET DEFAULT pg_catalog.nextval('otpguard_audit_id');
ALTER TABLE otpguard_audit_history ALTER COLUMN id SET DEFAULT pg_catalog.nextval('otpguard_audit_id');

-- The database numbers, dates and attributes each row itself, and moves
-- the customer's head to it (see above). Every name the function uses is
-- qualified with its schema, this migration's (written into the function
-- as it is created, so its statements are planned once per session), and
-- every function and operator with pg_catalog, so a session whose
-- search_path puts a schema of its own first cannot put tables,
-- functions or operators of its own in their place. It runs with its
-- owner's rights (SECURITY DEFINER): the application's role inserts audit
-- rows, and the trigger moves the heads, which that role can neither read
-- nor write.
DO $migration$
BEGIN
EXECUTE pg_catalog.format($function$
CREATE OR REPLACE FUNCTION %1$I.otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $body$
DECLARE
    moved bigint;
    head bigint;
BEGIN
    NEW.id := pg_catalog.nextval('%1$I.otpguard_audit_id'::pg_catalog.regclass);
    NEW.recorded_at := pg_catalog.now();
    NEW.written_by := pg_catalog.pg_current_xact_id();
    IF NEW.link IS NULL THEN
        RETURN NEW;  -- refused by otpguard_audit_linked
    END IF;
    IF NEW.link OPERATOR(pg_catalog.=) 1 THEN
        INSERT INTO %1$I.otpguard_audit_heads (customer_id, link) VALUES (NEW.customer_id, 1)
            ON CONFLICT (customer_id) DO NOTHING;
    ELSE
        UPDATE %1$I.otpguard_audit_heads SET link = NEW.link
            WHERE customer_id OPERATOR(pg_catalog.=) NEW.customer_id
            AND link OPERATOR(pg_catalog.=) (NEW.link OPERATOR(pg_catalog.-) 1);
    END IF;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved OPERATOR(pg_catalog.=) 0 THEN
        -- Another writer's row took the place (the head is at or past it,
        -- on a row the trail holds), or the head and the trail disagree:
        -- rows were cut from the trail's end, or the head was edited.
        SELECT h.link INTO head FROM %1$I.otpguard_audit_heads h
            WHERE h.customer_id OPERATOR(pg_catalog.=) NEW.customer_id;
        IF head OPERATOR(pg_catalog.>=) NEW.link AND EXISTS (SELECT 1 FROM %1$I.otpguard_audit a
                WHERE a.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                AND a.link OPERATOR(pg_catalog.=) head) THEN
            RAISE EXCEPTION 'audit chain position %% of customer %% is taken', NEW.link, NEW.customer_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'otpguard_audit_chain';
        END IF;
        RAISE EXCEPTION 'audit row at position %% of customer %% refused: the head of its chain is at position %%, which is not the row before it or not in its trail (rows cut from the trail''s end, the head edited, or a row that does not follow the trail)', NEW.link, NEW.customer_id, head
            USING ERRCODE = 'data_corrupted', CONSTRAINT = 'otpguard_audit_heads';
    END IF;
    RETURN NEW;
END;
$body$
$function$, pg_catalog.current_schema());
END;
$migration$;

CREATE TRIGGER otpguard_audit_stamp
    BEFORE INSERT ON otpguard_audit
    FOR EACH ROW EXECUTE FUNCTION otpguard_audit_stamp();
CREATE TRIGGER otpguard_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON otpguard_audit
    FOR EACH ROW EXECUTE FUNCTION otpguard_audit_append_only();
-- A statement trigger fires only for the table named: every partition gets
-- its own (PostgresStore::prepare_audit_partitions, and below).
CREATE TRIGGER otpguard_audit_no_truncate
    BEFORE TRUNCATE ON otpguard_audit
    FOR EACH STATEMENT EXECUTE FUNCTION otpguard_audit_append_only();
CREATE TRIGGER otpguard_audit_no_truncate
    BEFORE TRUNCATE ON otpguard_audit_history
    FOR EACH STATEMENT EXECUTE FUNCTION otpguard_audit_append_only();

-- Every per-customer read goes by (customer_id, link): a unique index in
-- each partition (the history keeps `otpguard_audit_chain`; each month
-- gets `<partition>_chain`), which a partitioned table cannot have across
-- partitions. Within a month it refuses a second row at a position even
-- from a role that can write the heads, and a copy of a row, whose `at`
-- its MAC covers, always lands in the month of the original. The stream,
-- the notices and reads by time as before, on the partitioned table.
CREATE INDEX otpguard_audit_stream ON otpguard_audit ((coalesce(written_by, '0'::xid8)), id);
CREATE INDEX otpguard_audit_notices ON otpguard_audit (id) WHERE notice IS NOT NULL;
CREATE INDEX otpguard_audit_at ON otpguard_audit USING brin (at);

DO $migration$
DECLARE
    bound bigint;
BEGIN
    SELECT EXTRACT(epoch FROM pg_catalog.date_trunc('month',
               pg_catalog.to_timestamp(GREATEST(
                   EXTRACT(epoch FROM pg_catalog.now())::bigint,
                   (SELECT max(at) FROM otpguard_audit_history)))
               AT TIME ZONE 'UTC') + interval '1 month')::bigint
        INTO bound;
    EXECUTE pg_catalog.format(
        'ALTER TABLE otpguard_audit ATTACH PARTITION otpguard_audit_history '
        'FOR VALUES FROM (MINVALUE) TO (%s)', bound);
END;
$migration$;

-- The audit table's partitions and their bounds (`lower` is NULL for the
-- history partition, which starts at MINVALUE), read from the catalog.
-- Each month's partition: `otpguard_audit_YYYY_MM`, from the month's first
-- second (UTC) to the next month's.
--
-- otpguard_audit_prepare(until) creates the months after the last
-- partition until one holds `until` (unix seconds), each with the two
-- checks above and its own TRUNCATE trigger, and returns their names. A
-- row dated where no partition is cannot be written (the commit fails):
-- PostgresStore::migrate prepares three months ahead, and the bank
-- schedules the call (PostgresStore::prepare_audit_partitions) to keep
-- months ahead.
DO $migration$
BEGIN
EXECUTE pg_catalog.format($function$
CREATE OR REPLACE FUNCTION %1$I.otpguard_audit_partitions()
RETURNS TABLE (name text, lower bigint, upper bigint)
LANGUAGE sql STABLE AS $body$
    SELECT c.relname::text,
           NULLIF(b[1], 'MINVALUE')::bigint,
           NULLIF(b[2], 'MAXVALUE')::bigint
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL pg_catalog.regexp_match(
        pg_catalog.pg_get_expr(c.relpartbound, c.oid),
        'FROM \(''?(-?[0-9]+|MINVALUE)''?\) TO \(''?(-?[0-9]+|MAXVALUE)''?\)') b
    WHERE i.inhparent = '%1$I.otpguard_audit'::pg_catalog.regclass
    ORDER BY 2 NULLS FIRST
$body$;

CREATE OR REPLACE FUNCTION %1$I.otpguard_audit_prepare(until bigint) RETURNS SETOF text
LANGUAGE plpgsql AS $body$
DECLARE
    start bigint;
    next bigint;
    month timestamp;
    partition text;
BEGIN
    LOOP
        SELECT max(p.upper) INTO start FROM %1$I.otpguard_audit_partitions() p;
        IF start IS NULL OR start > until THEN
            RETURN;
        END IF;
        month := pg_catalog.to_timestamp(start) AT TIME ZONE 'UTC';
        next := EXTRACT(epoch FROM (pg_catalog.date_trunc('month', month) + interval '1 month'))::bigint;
        partition := 'otpguard_audit_' || pg_catalog.to_char(month, 'YYYY_MM');
        EXECUTE pg_catalog.format(
            'CREATE TABLE %%1$I.%%2$I PARTITION OF %%1$I.otpguard_audit ('
            ' CONSTRAINT otpguard_audit_linked'
            '  CHECK (link IS NOT NULL AND chain IS NOT NULL AND reason_code IS NOT NULL),'
            ' CONSTRAINT otpguard_audit_written_by CHECK (written_by IS NOT NULL))'
            ' FOR VALUES FROM (%%3$s) TO (%%4$s)', %1$L, partition, start, next);
        EXECUTE pg_catalog.format(
            'CREATE UNIQUE INDEX %%3$I ON %%1$I.%%2$I (customer_id, link)',
            %1$L, partition, partition || '_chain');
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER otpguard_audit_no_truncate BEFORE TRUNCATE ON %%1$I.%%2$I'
            ' FOR EACH STATEMENT EXECUTE FUNCTION %%1$I.otpguard_audit_append_only()',
            %1$L, partition);
        RETURN NEXT partition;
    END LOOP;
END;
$body$;
$function$, pg_catalog.current_schema());
END;
$migration$;

-- A role that could read or write the audit table (the application's,
-- granted as the module documentation says) keeps that right on the new
-- one, with what writing now takes: the id sequence, and the floors its
-- loads read. Not the heads: only the stamping trigger moves them.
DO $migration$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT a.grantee::pg_catalog.regrole::text AS role, a.privilege_type AS what
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) a
        WHERE c.oid = 'otpguard_audit_history'::pg_catalog.regclass
          AND a.grantee <> 0 AND a.grantee <> c.relowner
          AND a.privilege_type IN ('SELECT', 'INSERT')
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON otpguard_audit TO %s', g.what, g.role);
        EXECUTE pg_catalog.format('GRANT SELECT ON otpguard_audit_floors TO %s', g.role);
        IF g.what = 'INSERT' THEN
            EXECUTE pg_catalog.format('GRANT USAGE ON SEQUENCE otpguard_audit_id TO %s', g.role);
        END IF;
    END LOOP;
END;
$migration$;

SELECT otpguard_audit_prepare(EXTRACT(epoch FROM now() + interval '3 months')::bigint);
