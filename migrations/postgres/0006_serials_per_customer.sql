-- A serial names a token within its customer's record, and nowhere else:
-- the token's identity is its random token_id. The unique index on serials
-- across customers let anyone who knew a serial block another customer's
-- registration by claiming it first, and made this store disagree with
-- every other. Within one record, a retired serial is still never
-- registered again (the lifecycle checks it).
DROP INDEX otpguard_token_serial_unique;
