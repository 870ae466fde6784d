-- otpguard 0004: throttling and notifications.
--
-- A record says until when its token's codes are held back after wrong
-- codes; an audit row says what the customer must be told out of band
-- (TokenBound, SwapCompleted, LockedOut, Reissued, LastTemporaryBlock),
-- committed with the event so that the notifier never misses one.

ALTER TABLE otpguard_token_records
    ADD COLUMN throttled_until bigint CHECK (throttled_until >= 0);

ALTER TABLE otpguard_audit
    ADD COLUMN notice text CHECK (notice IN
        ('TokenBound', 'SwapCompleted', 'LockedOut', 'Reissued', 'LastTemporaryBlock'));

-- The notifier's outbox: rows with a notice, in order.
CREATE INDEX otpguard_audit_notices ON otpguard_audit (id) WHERE notice IS NOT NULL;
