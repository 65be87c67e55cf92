-- Capture: mailboxes polled by IMAP, every inbound message met (taken, attached to an item
-- or quarantined: none is dropped), text extracted from files, and a persistent job queue.

-- A commune's mailbox. The connection settings (password included) are sealed with the
-- commune's data key; the cursor (UIDVALIDITY, last UID taken) moves in the transaction
-- that registers or quarantines each message, so a message is taken exactly once.
CREATE TABLE mailboxes (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    label TEXT NOT NULL,
    sealed_config TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    uid_validity BIGINT,
    last_uid BIGINT NOT NULL DEFAULT 0,
    last_polled_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX mailboxes_commune ON mailboxes (commune_id);

-- Every message received, whatever became of it. `source_key` identifies the message in
-- its source ('<uidvalidity>:<uid>' in a mailbox, the hash of the bytes for an import or
-- a dropped file), so taking it again is refused.
CREATE TABLE inbound_messages (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    origin TEXT NOT NULL,
    message_id TEXT,
    sha256 TEXT,
    size BIGINT NOT NULL,
    state TEXT NOT NULL,
    item_id TEXT REFERENCES items(id),
    reason TEXT,
    subject TEXT,
    sender TEXT,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, source, source_key)
);
CREATE INDEX inbound_by_message_id ON inbound_messages (commune_id, message_id);
CREATE INDEX inbound_by_state ON inbound_messages (commune_id, state, received_at);
CREATE INDEX inbound_by_hash ON inbound_messages (commune_id, sha256);

-- The text of a stored file: its text layer or OCR, or why it could not be read. The
-- searchable PDF made by OCR is another blob of the file store, beside the original.
CREATE TABLE file_texts (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    method TEXT,
    text TEXT,
    reason TEXT,
    pages BIGINT,
    searchable_sha256 TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (commune_id, sha256)
);

-- Background work that outlives a restart: extraction now. A job is retried with backoff
-- (`run_after`) until it succeeds or gives up.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_after TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, kind, subject)
);
CREATE INDEX jobs_due ON jobs (state, run_after);
