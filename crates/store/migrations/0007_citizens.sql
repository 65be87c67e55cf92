-- Citizens: public request forms, tracking links, the public thread of an item (what the
-- citizen and the commune said to each other), reply templates, and the outbox of email.

-- A public form of a commune: one per kind of request, with its own fields (versioned JSON,
-- see domain::request_form). Submissions become items of `doctype_code`, routed to `service_id`.
CREATE TABLE request_forms (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    intro TEXT NOT NULL,
    doctype_code TEXT,
    service_id TEXT REFERENCES services(id),
    fields_json TEXT NOT NULL,
    consent TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, code)
);

-- The unguessable link a citizen follows an item by. Only the token's hash is searchable;
-- the token itself is sealed with the commune's data key, so a later email can repeat it.
CREATE TABLE tracking_links (
    token_hash TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    sealed_token TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX tracking_links_item ON tracking_links (commune_id, item_id);

-- What the citizen sees of an item: acknowledgements, requests for documents, replies, and
-- the citizen's own messages. Internal notes never appear here.
CREATE TABLE item_messages (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    kind TEXT NOT NULL,
    from_citizen BIGINT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    reply_item_id TEXT REFERENCES items(id),
    attachment_ids TEXT NOT NULL,
    author_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX item_messages_item ON item_messages (commune_id, item_id, created_at);

-- Reply templates with {{variables}} (domain::reply_template).
CREATE TABLE reply_templates (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, code)
);

-- Every email the application sends. The message itself (RFC 5322 bytes) is a blob of the
-- encrypted file store; the row says where it is in its delivery. A message is retried with
-- backoff until the SMTP server takes it or refuses it for good; nothing is dropped.
-- `dedupe_key` makes a daily digest or an acknowledgement idempotent.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT REFERENCES items(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    dedupe_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, dedupe_key)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_message_id ON outbox (commune_id, message_id);
CREATE INDEX outbox_by_item ON outbox (commune_id, item_id);

-- Proof-of-work challenges already used, kept until they expire: one solution, one request.
CREATE TABLE spent_challenges (
    nonce TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

-- What L114-5 asked for, the implicit decision once born, the last acknowledgement sent.
ALTER TABLE items ADD COLUMN missing_documents TEXT;
ALTER TABLE items ADD COLUMN implicit_decision TEXT;
ALTER TABLE items ADD COLUMN implicit_decision_on TEXT;
ALTER TABLE items ADD COLUMN acknowledged_at TEXT;
