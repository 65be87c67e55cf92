-- A second factor for whoever signs (and administers): a TOTP secret (RFC 6238), sealed with
-- the commune's key like every other secret. `totp_pending_sealed` holds a secret shown to
-- its owner and not yet confirmed with a code; `totp_last_step` is the last time step a
-- code was accepted for, so that a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_sealed TEXT;
ALTER TABLE users ADD COLUMN totp_pending_sealed TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
