-- otpguard 0008: the estimate of each token's phone clock.
--
-- Six integers: when the first code the estimate rests on was accepted
-- and the offsets (phone minus server, seconds) it allowed, then the same
-- for the latest code. NULL in rows written before; the library makes an
-- estimate from token_last_step and token_drift for those.

ALTER TABLE otpguard_token_records
    ADD COLUMN token_drift_estimate bigint[] CHECK (
        cardinality(token_drift_estimate) = 6
        AND token_drift_estimate[1] >= 0
        AND token_drift_estimate[4] >= token_drift_estimate[1]
        AND token_drift_estimate[2] <= token_drift_estimate[3]
        AND token_drift_estimate[5] <= token_drift_estimate[6]),
    ADD CONSTRAINT otpguard_drift_estimate_with_token CHECK (
        token_drift_estimate IS NULL OR token_id IS NOT NULL);
