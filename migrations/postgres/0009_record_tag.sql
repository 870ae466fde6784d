-- otpguard 0009: the tag that authenticates each record as a whole.
--
-- 37 bytes (format, key id, HMAC-SHA-256 under the key's MAC key) over
-- every other column of the row, bound to the customer: a row changed outside the
-- library (a state set back, a count reset, a step lowered) does not open.
-- NULL in rows written before; such a row is refused until
-- PostgresStore::tag_untagged has tagged it. From now on no row is written
-- without one (NOT VALID: the check applies to every insert and update,
-- not to the rows already there), so a tag cannot be stripped to pass a
-- changed row off as one written before.

ALTER TABLE otpguard_token_records
    ADD COLUMN record_tag bytea CHECK (record_tag IS NULL OR octet_length(record_tag) = 37),
    ADD CONSTRAINT otpguard_record_tagged CHECK (record_tag IS NOT NULL) NOT VALID;
