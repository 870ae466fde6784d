-- otpguard 0013: each customer's head row holds a copy of the last audit
-- row's chained columns and the link of the row before it, so a load reads
-- the record and its chain's head by two primary keys, whatever the number
-- of audit partitions (schema 12 looked into every partition, twice).
--
-- The copy is the stamping trigger's, made as it moves the head: only it
-- writes the heads (the application's role can read them, not write
-- them). The library checks the copy's link against the link before it,
-- as it checked the trail's last row: a row the application's role
-- inserted without the key is refused at the next load, as before.
--
-- Before it moves a head, the trigger now finds the row the head copies in
-- the trail, in the partition its `at` names (one index probe): a trail
-- cut back at its end is still refused at the next commit, as in schema 12.

-- No writer may insert while the heads are filled from the trail.
LOCK TABLE otpguard_audit IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE otpguard_audit_heads
    ADD COLUMN chain              bytea CHECK (octet_length(chain) = 37),
    ADD COLUMN prev_link          bigint CHECK (prev_link > 0),
    ADD COLUMN prev_chain         bytea CHECK (octet_length(prev_chain) = 37),
    ADD COLUMN version            bigint,
    ADD COLUMN seq                integer,
    ADD COLUMN at                 bigint,
    ADD COLUMN actor              text,
    ADD COLUMN principal          text,
    ADD COLUMN source             text,
    ADD COLUMN request_id         text,
    ADD COLUMN token_id           bytea,
    ADD COLUMN token_serial       text,
    ADD COLUMN new_serial         text,
    ADD COLUMN event              text,
    ADD COLUMN from_state         text,
    ADD COLUMN to_state           text,
    ADD COLUMN outcome            text,
    ADD COLUMN reason             text,
    ADD COLUMN reason_code        text,
    ADD COLUMN drift_from         bigint,
    ADD COLUMN drift_to           bigint,
    ADD COLUMN notice             text,
    ADD COLUMN transaction_digest bytea;

-- Each head from its row in the trail, and the link before it from the
-- trail or, if it left with a detached partition, from the floor. (A
-- trail with two rows at its head's position fails the migration: that
-- is a forked chain, for verify_audits to report.)
UPDATE otpguard_audit_heads h SET
    (chain, version, seq, at, actor, principal, source, request_id, token_id,
     token_serial, new_serial, event, from_state, to_state, outcome, reason,
     reason_code, drift_from, drift_to, notice, transaction_digest) =
    (SELECT a.chain, a.version, a.seq, a.at, a.actor, a.principal, a.source,
            a.request_id, a.token_id, a.token_serial, a.new_serial, a.event,
            a.from_state, a.to_state, a.outcome, a.reason, a.reason_code,
            a.drift_from, a.drift_to, a.notice, a.transaction_digest
     FROM otpguard_audit a WHERE a.customer_id = h.customer_id AND a.link = h.link);
UPDATE otpguard_audit_heads h SET (prev_link, prev_chain) =
    (SELECT p.link, p.chain FROM (
        SELECT a.link, a.chain FROM otpguard_audit a
            WHERE a.customer_id = h.customer_id AND a.link = h.link - 1
        UNION ALL
        SELECT f.link, f.chain FROM otpguard_audit_floors f
            WHERE f.customer_id = h.customer_id AND f.link = h.link - 1
        LIMIT 1) p)
    WHERE h.link > 1;

-- Heads whose row is not in the trail (cut from it) keep no copy: their
-- customer's next load finds no head row that verifies and is refused as
-- corrupt, as the next commit would have been.

DO $migration$
BEGIN
EXECUTE pg_catalog.format($function$
CREATE OR REPLACE FUNCTION %1$I.otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $body$
DECLARE
    moved bigint;
    head bigint;
    head_at bigint;
BEGIN
    NEW.id := pg_catalog.nextval('%1$I.otpguard_audit_id'::pg_catalog.regclass);
    NEW.recorded_at := pg_catalog.now();
    NEW.written_by := pg_catalog.pg_current_xact_id();
    IF NEW.link IS NULL THEN
        RETURN NEW;  -- refused by otpguard_audit_linked
    END IF;
    IF NEW.link OPERATOR(pg_catalog.=) 1 THEN
        INSERT INTO %1$I.otpguard_audit_heads (customer_id, link, chain, version, seq, at,
            actor, principal, source, request_id, token_id, token_serial, new_serial, event,
            from_state, to_state, outcome, reason, reason_code, drift_from, drift_to, notice,
            transaction_digest)
        VALUES (NEW.customer_id, 1, NEW.chain, NEW.version, NEW.seq, NEW.at,
            NEW.actor, NEW.principal, NEW.source, NEW.request_id, NEW.token_id,
            NEW.token_serial, NEW.new_serial, NEW.event, NEW.from_state, NEW.to_state,
            NEW.outcome, NEW.reason, NEW.reason_code, NEW.drift_from, NEW.drift_to,
            NEW.notice, NEW.transaction_digest)
        ON CONFLICT (customer_id) DO NOTHING;
        GET DIAGNOSTICS moved = ROW_COUNT;
    ELSE
        -- The row the head copies, found in the trail (in the partition
        -- its date names): a head whose row was cut from the trail does
        -- not move.
        SELECT h.at INTO head_at FROM %1$I.otpguard_audit_heads h
            WHERE h.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
            AND h.link OPERATOR(pg_catalog.=) (NEW.link OPERATOR(pg_catalog.-) 1);
        moved := 0;
        IF FOUND AND EXISTS (SELECT 1 FROM %1$I.otpguard_audit a
                WHERE a.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                AND a.link OPERATOR(pg_catalog.=) (NEW.link OPERATOR(pg_catalog.-) 1)
                AND a.at OPERATOR(pg_catalog.=) head_at) THEN
            UPDATE %1$I.otpguard_audit_heads h SET link = NEW.link,
                prev_link = h.link, prev_chain = h.chain, chain = NEW.chain,
                version = NEW.version, seq = NEW.seq, at = NEW.at, actor = NEW.actor,
                principal = NEW.principal, source = NEW.source, request_id = NEW.request_id,
                token_id = NEW.token_id, token_serial = NEW.token_serial,
                new_serial = NEW.new_serial, event = NEW.event, from_state = NEW.from_state,
                to_state = NEW.to_state, outcome = NEW.outcome, reason = NEW.reason,
                reason_code = NEW.reason_code, drift_from = NEW.drift_from,
                drift_to = NEW.drift_to, notice = NEW.notice,
                transaction_digest = NEW.transaction_digest
                WHERE h.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                AND h.link OPERATOR(pg_catalog.=) (NEW.link OPERATOR(pg_catalog.-) 1);
            GET DIAGNOSTICS moved = ROW_COUNT;
        END IF;
    END IF;
    IF moved OPERATOR(pg_catalog.=) 0 THEN
        -- Another writer's row took the place (the head is at or past it,
        -- on a row the trail holds), or the head and the trail disagree:
        -- rows were cut from the trail's end, or the head was edited.
        SELECT h.link, h.at INTO head, head_at FROM %1$I.otpguard_audit_heads h
            WHERE h.customer_id OPERATOR(pg_catalog.=) NEW.customer_id;
        IF head OPERATOR(pg_catalog.>=) NEW.link AND EXISTS (SELECT 1 FROM %1$I.otpguard_audit a
                WHERE a.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                AND a.link OPERATOR(pg_catalog.=) head
                AND a.at OPERATOR(pg_catalog.=) head_at) THEN
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

-- Loads read the heads: a role that can read the audit table can read
-- them. Only the stamping trigger writes them.
DO $migration$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT a.grantee::pg_catalog.regrole::text AS role
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(c.relacl) a
        WHERE c.oid = 'otpguard_audit'::pg_catalog.regclass
          AND a.grantee <> 0 AND a.grantee <> c.relowner
          AND a.privilege_type = 'SELECT'
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON otpguard_audit_heads TO %s', g.role);
    END LOOP;
END;
$migration$;
