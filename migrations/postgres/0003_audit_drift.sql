-- otpguard 0003: an audit row says when an event moved the token's drift
-- by more than one step (RFC 6238 §6 re-centring, Resync, ResetDrift).

ALTER TABLE otpguard_audit
    ADD COLUMN drift_from bigint,
    ADD COLUMN drift_to   bigint,
    ADD CONSTRAINT otpguard_audit_drift_complete
        CHECK ((drift_from IS NULL) = (drift_to IS NULL));
