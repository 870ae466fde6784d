-- otpguard 0010: the keyed audit chain.
--
-- Every audit row written from now on carries its place in its customer's
-- chain: `link`, its position (1, 2, ... per customer), and `chain`, 37
-- bytes (format, key id, HMAC-SHA-256 under the key's MAC key) over the
-- customer, the position, the previous row's link and every column of
-- the row the library writes (not `id` or `recorded_at`, which the
-- database sets). A row deleted, edited, moved or inserted without the key
-- breaks the chain at that place (PostgresStore::verify_audit).
--
-- The unique position is what keeps concurrent writers from forking the
-- chain: each links its rows after the head it loaded, and a second row at
-- a position already taken is a unique violation, which the store reports
-- as a conflict and decides again.
--
-- `reason_code` is the reason's stable, machine-readable code
-- (`wrong_code`, `replayed`, `throttled`, ...; AuditReason::code), for
-- counting refusals without parsing `reason`'s English; the chain covers
-- it with the rest of the row.
--
-- Rows written before have no link and come first in a trail; they cannot
-- be verified. From now on no row is written without a link and a reason
-- code (NOT VALID: the check applies to every insert, not to the rows
-- already there).

ALTER TABLE otpguard_audit
    ADD COLUMN link bigint CHECK (link IS NULL OR link > 0),
    ADD COLUMN chain bytea CHECK (chain IS NULL OR octet_length(chain) = 37),
    ADD COLUMN reason_code text,
    ADD CONSTRAINT otpguard_audit_linked
        CHECK (link IS NOT NULL AND chain IS NOT NULL AND reason_code IS NOT NULL) NOT VALID;

CREATE UNIQUE INDEX otpguard_audit_chain ON otpguard_audit (customer_id, link);
