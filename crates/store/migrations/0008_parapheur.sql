-- The parapheur: letters drafted in reply to items, their visa and signature circuits,
-- delegations between signers, and the signing keys (a commune's CA, its seal, its signers).

-- A letter going through the parapheur. Its PDF is a blob of the encrypted file store: the
-- first render, then each signed revision (each signature is an incremental update of the
-- previous one). `circuit_json` is domain::circuit::Circuit wrapped as {"v":1,"circuit":…};
-- `version` rises on every change so that two concurrent actions cannot both land.
CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT REFERENCES items(id),
    reply_item_id TEXT REFERENCES items(id),
    doctype_code TEXT,
    template_code TEXT,
    subject TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    signer_id TEXT REFERENCES users(id),
    author_id TEXT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    circuit_json TEXT,
    pdf_sha256 TEXT,
    pdf_size BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    sent_via TEXT,
    registered_number TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX folders_item ON folders (commune_id, item_id);
CREATE INDEX folders_state ON folders (commune_id, state, updated_at);

-- A named circuit of a commune; `doctype_code` set makes it the default for that type.
CREATE TABLE circuit_templates (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    doctype_code TEXT,
    definition_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, code)
);

-- "A signs for B from … to …, for these document types (all when empty)".
CREATE TABLE delegations (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    from_user TEXT NOT NULL REFERENCES users(id),
    to_user TEXT NOT NULL REFERENCES users(id),
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    doctypes_json TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX delegations_to ON delegations (commune_id, to_user);

-- Signing keys. `kind` is ca (the commune's own certification authority), seal (the
-- commune's server seal) or person (one per signer). The PKCS#8 key is sealed with the
-- commune's data key; when `pin_protected`, that PKCS#8 is itself encrypted with the
-- signer's code. `chain_pem` holds the certificate then its issuers.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    user_id TEXT REFERENCES users(id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_after TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    pin_protected BIGINT NOT NULL DEFAULT 0,
    chain_pem TEXT NOT NULL,
    image_sha256 TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX signing_keys_owner ON signing_keys (commune_id, kind, user_id);
