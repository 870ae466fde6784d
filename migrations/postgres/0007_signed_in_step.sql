-- otpguard 0007: single use per (time step, transaction) for signing
-- suites without a counter.
--
-- A token whose suite has no counter keeps the SHA-256 digests of the
-- questions (payee account, or transaction digest) answered in the time
-- step of its last signature, 32 bytes each, one after the other (at most
-- 16): a transfer with another question in the same step is signed, the
-- same question again is a replay.

ALTER TABLE otpguard_token_records
    ADD COLUMN token_signed_in_step bytea CHECK (
        octet_length(token_signed_in_step) % 32 = 0
        AND octet_length(token_signed_in_step) BETWEEN 32 AND 512),
    ADD CONSTRAINT otpguard_signed_in_step_with_signature CHECK (
        token_signed_in_step IS NULL OR token_last_signature IS NOT NULL);
