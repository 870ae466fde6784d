-- otpguard 0002: the audit trail, append-only.
--
-- One row per audit record, written in the same statement as the change it
-- describes. A customer's rows in commit order: ORDER BY version, id (a
-- refusal keeps the version it was decided on, and is inserted after the
-- commit that made that version; `seq` is the order within one commit). A
-- trigger refuses UPDATE, DELETE and TRUNCATE: rows can be added, never
-- changed.

CREATE TABLE otpguard_audit (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  text        NOT NULL,
    version      bigint      NOT NULL,
    seq          integer     NOT NULL,
    at           bigint      NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    principal    text,
    source       text,
    request_id   text,
    token_id     bytea,
    token_serial text,
    new_serial   text,
    event        text        NOT NULL,
    from_state   text        NOT NULL,
    to_state     text        NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    reason       text        NOT NULL
);

-- The database numbers and dates each row itself: a row inserted with
-- its own id (OVERRIDING SYSTEM VALUE) or date cannot sort itself earlier.
CREATE FUNCTION otpguard_audit_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := nextval(pg_get_serial_sequence('otpguard_audit', 'id'));
    NEW.recorded_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER otpguard_audit_stamp
    BEFORE INSERT ON otpguard_audit
    FOR EACH ROW EXECUTE FUNCTION otpguard_audit_stamp();

CREATE INDEX otpguard_audit_by_customer
    ON otpguard_audit (customer_id, version, id);

CREATE FUNCTION otpguard_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'otpguard_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER otpguard_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON otpguard_audit
    FOR EACH ROW EXECUTE FUNCTION otpguard_audit_append_only();

CREATE TRIGGER otpguard_audit_no_truncate
    BEFORE TRUNCATE ON otpguard_audit
    FOR EACH STATEMENT EXECUTE FUNCTION otpguard_audit_append_only();
