-- otpguard 0014: the row rules of the record and audit tables, checked by
-- a trigger instead of CHECK constraints.
--
-- PostgreSQL reads each CHECK constraint of a table from its catalog text,
-- plans it and prepares it again at every statement that writes the table
-- (measured: 27 constraints cost a one-row update of the record about 70
-- µs of the server's CPU, eight times the update itself; the audit
-- table's cost its insert about 40 µs). A PL/pgSQL trigger's expressions
-- are prepared once per session. The rules are the same, each raised
-- with the SQLSTATE (23514, check_violation), constraint name and message
-- wording its constraint had, so a client sees no difference; like a NOT
-- VALID constraint, they bind every row written, not the rows already
-- there. NOT NULL constraints and the unique indexes stay.
--
-- Every function, operator and type in the rules is qualified with
-- pg_catalog: the record table's trigger runs with the rights and the
-- search_path of the role that writes, and a role that put an operator of
-- its own first on its search_path must not be able to change a rule. The
-- stamping trigger, which runs with its owner's rights, also sets its own
-- search_path (pg_catalog, then pg_temp last): PostgreSQL looks types up
-- in the session's temporary schema first, and a type the caller made
-- there would run the caller's code with the owner's rights.
--
-- The stamping trigger also refuses a head that went back (restored from
-- an older copy, with or without the record): a row already at the
-- position the head would move to, dated after the head's row, is another
-- writer's (the head moved on: the position is taken) or shows the head
-- behind its trail (refused as corrupt). And a first row for a customer
-- whose trail has one, or a floor, is taken or follows a deleted head.

ALTER TABLE otpguard_token_records
    DROP CONSTRAINT otpguard_drift_estimate_with_token,
    DROP CONSTRAINT otpguard_enrollment_complete,
    DROP CONSTRAINT otpguard_record_tagged,
    DROP CONSTRAINT otpguard_signed_in_step_with_signature,
    DROP CONSTRAINT otpguard_signing_with_enrollment,
    DROP CONSTRAINT otpguard_signing_with_token,
    DROP CONSTRAINT otpguard_swap_complete,
    DROP CONSTRAINT otpguard_token_complete,
    DROP CONSTRAINT otpguard_token_records_enrollment_algorithm_check,
    DROP CONSTRAINT otpguard_token_records_enrollment_digits_check,
    DROP CONSTRAINT otpguard_token_records_enrollment_period_check,
    DROP CONSTRAINT otpguard_token_records_enrollment_signing_suite_check,
    DROP CONSTRAINT otpguard_token_records_enrollment_t0_check,
    DROP CONSTRAINT otpguard_token_records_failures_check,
    DROP CONSTRAINT otpguard_token_records_record_tag_check,
    DROP CONSTRAINT otpguard_token_records_throttled_until_check,
    DROP CONSTRAINT otpguard_token_records_token_algorithm_check,
    DROP CONSTRAINT otpguard_token_records_token_digits_check,
    DROP CONSTRAINT otpguard_token_records_token_drift_estimate_check,
    DROP CONSTRAINT otpguard_token_records_token_id_check,
    DROP CONSTRAINT otpguard_token_records_token_last_signature_check,
    DROP CONSTRAINT otpguard_token_records_token_last_step_check,
    DROP CONSTRAINT otpguard_token_records_token_period_check,
    DROP CONSTRAINT otpguard_token_records_token_signed_in_step_check,
    DROP CONSTRAINT otpguard_token_records_token_signing_suite_check,
    DROP CONSTRAINT otpguard_token_records_token_t0_check,
    DROP CONSTRAINT otpguard_token_records_version_check;

-- Raises a check violation of `rule` on `relation`, worded as PostgreSQL
-- words one.
CREATE OR REPLACE FUNCTION otpguard_rule_broken(relation text, rule text) RETURNS void
LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', relation, rule
        USING ERRCODE = 'check_violation', CONSTRAINT = rule, TABLE = relation;
END;
$body$;

DO $migration$
BEGIN
EXECUTE pg_catalog.format($function$
CREATE OR REPLACE FUNCTION %1$I.otpguard_token_records_rules() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
    r constant pg_catalog.text := 'otpguard_token_records';
BEGIN
    IF (NEW.version OPERATOR(pg_catalog.>) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_version_check');
    END IF;
    IF ((NEW.token_id IS NULL) OPERATOR(pg_catalog.=) (NEW.token_serial IS NULL)
        AND (NEW.token_id IS NULL) OPERATOR(pg_catalog.=) (NEW.token_secret IS NULL)
        AND (NEW.token_id IS NULL) OPERATOR(pg_catalog.=) (NEW.token_algorithm IS NULL)
        AND (NEW.token_id IS NULL) OPERATOR(pg_catalog.=) (NEW.token_last_step IS NULL)
        AND (NEW.token_id IS NULL) OPERATOR(pg_catalog.=) (NEW.token_drift IS NULL)) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_complete');
    END IF;
    IF (pg_catalog.octet_length(NEW.token_id) OPERATOR(pg_catalog.=) 16) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_id_check');
    END IF;
    IF (NEW.token_algorithm OPERATOR(pg_catalog.=) ANY (ARRAY['SHA1', 'SHA256', 'SHA512']::pg_catalog.text[])) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_algorithm_check');
    END IF;
    IF (NEW.token_digits OPERATOR(pg_catalog.>=) 6 AND NEW.token_digits OPERATOR(pg_catalog.<=) 8) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_digits_check');
    END IF;
    IF (NEW.token_period OPERATOR(pg_catalog.>) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_period_check');
    END IF;
    IF (NEW.token_t0 OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_t0_check');
    END IF;
    IF (NEW.token_last_step OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_last_step_check');
    END IF;
    IF (pg_catalog.cardinality(NEW.token_drift_estimate) OPERATOR(pg_catalog.=) 6
        AND NEW.token_drift_estimate[1] OPERATOR(pg_catalog.>=) 0
        AND NEW.token_drift_estimate[4] OPERATOR(pg_catalog.>=) NEW.token_drift_estimate[1]
        AND NEW.token_drift_estimate[2] OPERATOR(pg_catalog.<=) NEW.token_drift_estimate[3]
        AND NEW.token_drift_estimate[5] OPERATOR(pg_catalog.<=) NEW.token_drift_estimate[6]) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_drift_estimate_check');
    END IF;
    IF (NEW.token_drift_estimate IS NULL OR NEW.token_id IS NOT NULL) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_drift_estimate_with_token');
    END IF;
    IF ((NEW.swap_started_at IS NULL) OPERATOR(pg_catalog.=) (NEW.swap_deadline IS NULL)) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_swap_complete');
    END IF;
    IF ((NEW.enrollment_secret IS NULL) OPERATOR(pg_catalog.=) (NEW.enrollment_deadline IS NULL)
        AND (NEW.enrollment_secret IS NULL) OPERATOR(pg_catalog.=) (NEW.enrollment_algorithm IS NULL)) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_enrollment_complete');
    END IF;
    IF (NEW.enrollment_algorithm OPERATOR(pg_catalog.=) ANY (ARRAY['SHA1', 'SHA256', 'SHA512']::pg_catalog.text[])) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_enrollment_algorithm_check');
    END IF;
    IF (NEW.enrollment_digits OPERATOR(pg_catalog.>=) 6 AND NEW.enrollment_digits OPERATOR(pg_catalog.<=) 8) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_enrollment_digits_check');
    END IF;
    IF (NEW.enrollment_period OPERATOR(pg_catalog.>) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_enrollment_period_check');
    END IF;
    IF (NEW.enrollment_t0 OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_enrollment_t0_check');
    END IF;
    IF (NEW.failures OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_failures_check');
    END IF;
    IF (NEW.throttled_until OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_throttled_until_check');
    END IF;
    IF (NEW.record_tag IS NOT NULL) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_record_tagged');
    END IF;
    IF (pg_catalog.octet_length(NEW.record_tag) OPERATOR(pg_catalog.=) 37) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_record_tag_check');
    END IF;
    IF (NEW.token_signing_suite OPERATOR(pg_catalog.~~) 'OCRA-1:HOTP-%%'::pg_catalog.text) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_signing_suite_check');
    END IF;
    IF (NEW.token_last_signature OPERATOR(pg_catalog.>=) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_last_signature_check');
    END IF;
    IF (NEW.enrollment_signing_suite OPERATOR(pg_catalog.~~) 'OCRA-1:HOTP-%%'::pg_catalog.text) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_enrollment_signing_suite_check');
    END IF;
    IF ((NEW.token_signing_suite IS NULL OR NEW.token_id IS NOT NULL)
        AND (NEW.token_last_signature IS NULL OR NEW.token_signing_suite IS NOT NULL)) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_signing_with_token');
    END IF;
    IF (NEW.enrollment_secret IS NOT NULL OR NEW.enrollment_signing_suite IS NULL) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_signing_with_enrollment');
    END IF;
    IF (pg_catalog.octet_length(NEW.token_signed_in_step) OPERATOR(pg_catalog.%%) 32 OPERATOR(pg_catalog.=) 0
        AND pg_catalog.octet_length(NEW.token_signed_in_step) OPERATOR(pg_catalog.>=) 32
        AND pg_catalog.octet_length(NEW.token_signed_in_step) OPERATOR(pg_catalog.<=) 512) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_token_records_token_signed_in_step_check');
    END IF;
    IF (NEW.token_signed_in_step IS NULL OR NEW.token_last_signature IS NOT NULL) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_signed_in_step_with_signature');
    END IF;
    RETURN NEW;
END;
$body$
$function$, pg_catalog.current_schema());
END;
$migration$;

CREATE TRIGGER otpguard_token_records_rules
    BEFORE INSERT OR UPDATE ON otpguard_token_records
    FOR EACH ROW EXECUTE FUNCTION otpguard_token_records_rules();

-- The audit table's rules move into its stamping trigger (below), checked
-- before it numbers the row or moves the head. Dropped from the
-- partitioned table, they leave every partition; the two each partition
-- has of its own (NOT VALID on the history) are dropped from each.
ALTER TABLE otpguard_audit
    DROP CONSTRAINT otpguard_audit_chain_check,
    DROP CONSTRAINT otpguard_audit_drift_complete,
    DROP CONSTRAINT otpguard_audit_link_check,
    DROP CONSTRAINT otpguard_audit_notice_check,
    DROP CONSTRAINT otpguard_audit_outcome_check,
    DROP CONSTRAINT otpguard_audit_transaction_digest_check,
    DROP CONSTRAINT otpguard_digest_of_a_signature;

DO $migration$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT name FROM otpguard_audit_partitions() LOOP
        EXECUTE pg_catalog.format(
            'ALTER TABLE %I DROP CONSTRAINT otpguard_audit_linked, '
            'DROP CONSTRAINT otpguard_audit_written_by', p.name);
    END LOOP;
END;
$migration$;

DO $migration$
BEGIN
EXECUTE pg_catalog.format($function$
CREATE OR REPLACE FUNCTION %1$I.otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
DECLARE
    r constant pg_catalog.text := 'otpguard_audit';
    moved bigint;
    head bigint;
    head_at bigint;
BEGIN
    IF (NEW.link IS NOT NULL AND NEW.chain IS NOT NULL AND NEW.reason_code IS NOT NULL) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_linked');
    END IF;
    IF (NEW.link OPERATOR(pg_catalog.>) 0) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_link_check');
    END IF;
    IF (pg_catalog.octet_length(NEW.chain) OPERATOR(pg_catalog.=) 37) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_chain_check');
    END IF;
    IF ((NEW.drift_from IS NULL) OPERATOR(pg_catalog.=) (NEW.drift_to IS NULL)) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_drift_complete');
    END IF;
    IF (NEW.outcome OPERATOR(pg_catalog.=) ANY (ARRAY['accepted', 'refused']::pg_catalog.text[])) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_outcome_check');
    END IF;
    IF (NEW.notice OPERATOR(pg_catalog.=) ANY (ARRAY['TokenBound', 'SwapCompleted', 'LockedOut',
            'Reissued', 'LastTemporaryBlock']::pg_catalog.text[])) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_notice_check');
    END IF;
    IF (pg_catalog.octet_length(NEW.transaction_digest) OPERATOR(pg_catalog.=) 32) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_audit_transaction_digest_check');
    END IF;
    IF (NEW.transaction_digest IS NULL
        OR NEW.event OPERATOR(pg_catalog.=) 'SignTransaction'::pg_catalog.text) IS FALSE THEN
        PERFORM %1$I.otpguard_rule_broken(r, 'otpguard_digest_of_a_signature');
    END IF;
    NEW.id := pg_catalog.nextval('%1$I.otpguard_audit_id'::pg_catalog.regclass);
    NEW.recorded_at := pg_catalog.now();
    NEW.written_by := pg_catalog.pg_current_xact_id();
    IF NEW.link OPERATOR(pg_catalog.=) 1 THEN
        -- A customer whose trail has a first row, or a floor, has a head:
        -- a first row again is another writer's (taken) or follows a
        -- deleted head (refused below).
        IF EXISTS (SELECT 1 FROM %1$I.otpguard_audit a
                WHERE a.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                AND a.link OPERATOR(pg_catalog.=) 1)
            OR EXISTS (SELECT 1 FROM %1$I.otpguard_audit_floors f
                WHERE f.customer_id OPERATOR(pg_catalog.=) NEW.customer_id) THEN
            moved := 0;
        ELSE
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
        END IF;
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
            -- Nor does a head behind its trail (restored from an older
            -- copy): a row at the position it would move to, written
            -- after the head's row (looked for in the months from a day
            -- before the earlier of the head's row and this one, to a day
            -- after this one: writers' clocks may disagree), is another
            -- writer's that moved the head on (taken), or shows the head
            -- went back (refused).
            IF EXISTS (SELECT 1 FROM %1$I.otpguard_audit a
                    WHERE a.customer_id OPERATOR(pg_catalog.=) NEW.customer_id
                    AND a.link OPERATOR(pg_catalog.=) NEW.link
                    AND a.at OPERATOR(pg_catalog.>=)
                        (LEAST(head_at, NEW.at) OPERATOR(pg_catalog.-) 86400)
                    AND a.at OPERATOR(pg_catalog.<=) (NEW.at OPERATOR(pg_catalog.+) 86400)) THEN
                SELECT h.link INTO head FROM %1$I.otpguard_audit_heads h
                    WHERE h.customer_id OPERATOR(pg_catalog.=) NEW.customer_id;
                IF head OPERATOR(pg_catalog.>=) NEW.link THEN
                    RAISE EXCEPTION 'audit chain position %% of customer %% is taken', NEW.link, NEW.customer_id
                        USING ERRCODE = 'unique_violation', CONSTRAINT = 'otpguard_audit_chain';
                END IF;
                RAISE EXCEPTION 'audit row at position %% of customer %% refused: the trail holds a row there already, after the row the head of its chain copies (the head went back: restored from an older copy)', NEW.link, NEW.customer_id
                    USING ERRCODE = 'data_corrupted', CONSTRAINT = 'otpguard_audit_heads';
            END IF;
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
            'CREATE TABLE %%1$I.%%2$I PARTITION OF %%1$I.otpguard_audit'
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
