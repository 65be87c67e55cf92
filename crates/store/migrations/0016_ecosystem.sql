-- Issue 18, "open to the commune's ecosystem".
-- Point 6: the signatures of a PDF, verified when it arrived (email, upload, drop folder),
-- by the verifier of `crates/signing`. One row per file of a commune (files are
-- content-addressed: the same bytes are the same file); the first verification is kept,
-- it is the evidence of what arrived. `verdict` is one of valid, untrusted, modified,
-- altered, unreadable; `report_json` holds each signature's facts, for the item's page.
CREATE TABLE file_signatures (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    sha256 TEXT NOT NULL,
    verdict TEXT NOT NULL,
    signatures BIGINT NOT NULL,
    report_json TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    PRIMARY KEY (commune_id, sha256)
);
-- Point 1: the HTTP API's tokens. A token acts for its owner (a user of the commune: their
-- role, and the confidentiality rule, apply to every call) within its scopes. Only the
-- SHA-256 of the token is kept (it has 256 random bits: no dictionary to try), with its
-- first characters to recognise it in a list.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    owner_id TEXT NOT NULL REFERENCES users(id),
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE INDEX api_tokens_commune ON api_tokens (commune_id, created_at);
-- What a creation answered, per token and Idempotency-Key, written in the transaction of
-- the creation itself: a retried POST gets the same answer and registers nothing more.
-- `fingerprint` is the SHA-256 of the request (method, path, body): the same key with
-- another request is refused.
CREATE TABLE api_idempotency (
    token_id TEXT NOT NULL REFERENCES api_tokens(id),
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (token_id, idempotency_key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
