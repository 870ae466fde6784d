-- otpguard 0001: token records, one row per customer, every secret sealed.
--
-- `version` is the compare-and-swap column: a commit updates the row only
-- if it still holds the version the decision was taken on. Secrets are
-- stored only as sealed blobs (AES-256-GCM, bound to the customer, the
-- token and the slot); `sealed_with` lists the keys that sealed them.

CREATE TABLE otpguard_token_records (
    customer_id          text     PRIMARY KEY,
    version              bigint   NOT NULL CHECK (version > 0),
    state                text     NOT NULL,

    -- The current token (Active, Swapping, Suspended).
    token_id             bytea    CHECK (octet_length(token_id) = 16),
    token_serial         text,
    token_algorithm      text     CHECK (token_algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    token_digits         smallint CHECK (token_digits BETWEEN 6 AND 8),
    token_period         bigint   CHECK (token_period > 0),
    token_t0             bigint   CHECK (token_t0 >= 0),
    token_secret         bytea,
    token_last_step      bigint   CHECK (token_last_step >= 0),
    token_drift          bigint,

    -- The pending swap (Swapping).
    swap_started_at      bigint,
    swap_deadline        bigint,

    -- A provisioned secret waiting for its first code.
    enrollment_secret    bytea,
    enrollment_deadline  bigint,
    enrollment_algorithm text     CHECK (enrollment_algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    enrollment_digits    smallint CHECK (enrollment_digits BETWEEN 6 AND 8),
    enrollment_period    bigint   CHECK (enrollment_period > 0),
    enrollment_t0        bigint   CHECK (enrollment_t0 >= 0),

    failures             bigint   NOT NULL CHECK (failures >= 0),
    login_otp            boolean  NOT NULL,
    retired_serials      text[]   NOT NULL,
    retired_fingerprints bytea[]  NOT NULL,
    fingerprint_key      bytea,
    sealed_with          bigint[] NOT NULL,

    CONSTRAINT otpguard_token_complete CHECK (
        (token_id IS NULL) = (token_serial IS NULL)
        AND (token_id IS NULL) = (token_secret IS NULL)
        AND (token_id IS NULL) = (token_algorithm IS NULL)
        AND (token_id IS NULL) = (token_last_step IS NULL)
        AND (token_id IS NULL) = (token_drift IS NULL)),
    CONSTRAINT otpguard_swap_complete CHECK (
        (swap_started_at IS NULL) = (swap_deadline IS NULL)),
    CONSTRAINT otpguard_enrollment_complete CHECK (
        (enrollment_secret IS NULL) = (enrollment_deadline IS NULL)
        AND (enrollment_secret IS NULL) = (enrollment_algorithm IS NULL))
);

-- A serial belongs to one customer at a time.
CREATE UNIQUE INDEX otpguard_token_serial_unique
    ON otpguard_token_records (token_serial)
    WHERE token_serial IS NOT NULL;

-- The re-seal pass finds rows sealed under a key being retired.
CREATE INDEX otpguard_token_records_sealed_with
    ON otpguard_token_records USING gin (sealed_with);
