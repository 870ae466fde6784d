-- otpguard 0005: transaction signing (OCRA, RFC 6287).
--
-- A token may be bound with the OCRA suite it signs transactions with, and
-- keeps the counter (or time step) of its last accepted signature; a
-- pending enrollment keeps the suite its Key URI carried. An audit row of
-- a SignTransaction event carries the SHA-256 digest of the transaction's
-- canonical encoding, never the response.

ALTER TABLE otpguard_token_records
    ADD COLUMN token_signing_suite text CHECK (token_signing_suite LIKE 'OCRA-1:HOTP-%'),
    ADD COLUMN token_last_signature bigint CHECK (token_last_signature >= 0),
    ADD COLUMN enrollment_signing_suite text CHECK (enrollment_signing_suite LIKE 'OCRA-1:HOTP-%'),
    ADD CONSTRAINT otpguard_signing_with_token CHECK (
        (token_signing_suite IS NULL OR token_id IS NOT NULL)
        AND (token_last_signature IS NULL OR token_signing_suite IS NOT NULL)),
    ADD CONSTRAINT otpguard_signing_with_enrollment CHECK (
        enrollment_secret IS NOT NULL OR enrollment_signing_suite IS NULL);

ALTER TABLE otpguard_audit
    ADD COLUMN transaction_digest bytea CHECK (octet_length(transaction_digest) = 32),
    ADD CONSTRAINT otpguard_digest_of_a_signature CHECK (
        transaction_digest IS NULL OR event = 'SignTransaction');
