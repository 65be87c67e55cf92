-- The register: communes, people, document types, contacts, items, files, journal.
-- Dates are ISO 8601 text ('YYYY-MM-DD'), instants RFC 3339 UTC text with microseconds,
-- identifiers UUID text, flags 0/1: the same representation on SQLite and PostgreSQL.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE communes (
    id TEXT PRIMARY KEY,
    insee TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    siren TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    departement TEXT NOT NULL,
    chrono_format TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    email TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    UNIQUE (commune_id, code)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    title TEXT,
    role TEXT NOT NULL,
    service_id TEXT REFERENCES services(id),
    password_hash TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    UNIQUE (commune_id, email)
);

CREATE TABLE doctypes (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    delay TEXT NOT NULL,
    silence TEXT NOT NULL,
    retention_years BIGINT NOT NULL,
    final_action TEXT NOT NULL,
    no_acknowledgement BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (commune_id, code)
);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    kind TEXT NOT NULL,
    civility TEXT,
    first_name TEXT,
    name TEXT NOT NULL,
    organisation TEXT,
    address TEXT,
    postal_code TEXT,
    city TEXT,
    email TEXT,
    phone TEXT,
    siret TEXT,
    email_key TEXT,
    phone_key TEXT,
    name_address_key TEXT,
    merged_into TEXT REFERENCES contacts(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX contacts_email ON contacts (commune_id, email_key);
CREATE INDEX contacts_phone ON contacts (commune_id, phone_key);
CREATE INDEX contacts_name_address ON contacts (commune_id, name_address_key);
CREATE INDEX contacts_name ON contacts (commune_id, name);

-- One row per (commune, year, direction): the last number given. Incremented inside the
-- registering transaction, so a rollback gives the number back and nothing leaves a gap.
CREATE TABLE chrono_counters (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    year BIGINT NOT NULL,
    direction TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (commune_id, year, direction)
);

CREATE TABLE items (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    chrono TEXT NOT NULL,
    year BIGINT NOT NULL,
    direction TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    channel TEXT NOT NULL,
    registered_number TEXT,
    doctype_code TEXT,
    subject TEXT NOT NULL,
    body TEXT,
    letter_date TEXT,
    arrival_date TEXT NOT NULL,
    first_receipt_elsewhere TEXT,
    registered_at TEXT NOT NULL,
    sender_reference TEXT,
    priority TEXT NOT NULL,
    confidentiality TEXT NOT NULL,
    service_id TEXT REFERENCES services(id),
    assignee_id TEXT REFERENCES users(id),
    status TEXT NOT NULL,
    close_reason TEXT,
    due_date TEXT,
    silence_date TEXT,
    incomplete_requested_on TEXT,
    incomplete_completed_on TEXT,
    created_by TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, year, direction, sequence),
    UNIQUE (commune_id, chrono)
);
CREATE INDEX items_by_date ON items (commune_id, registered_at);
CREATE INDEX items_by_status ON items (commune_id, status, due_date);
CREATE INDEX items_by_service ON items (commune_id, service_id, status);
CREATE INDEX items_by_assignee ON items (commune_id, assignee_id, status);

CREATE TABLE item_contacts (
    item_id TEXT NOT NULL REFERENCES items(id),
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (item_id, role, contact_id)
);
CREATE INDEX item_contacts_contact ON item_contacts (contact_id);

CREATE TABLE item_tags (
    item_id TEXT NOT NULL REFERENCES items(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
);

CREATE TABLE item_copies (
    item_id TEXT NOT NULL REFERENCES items(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (item_id, user_id)
);

CREATE TABLE item_links (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    from_item TEXT NOT NULL REFERENCES items(id),
    to_item TEXT NOT NULL REFERENCES items(id),
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (from_item, to_item, kind)
);

CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    author_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX notes_item ON notes (item_id);

-- Files themselves live in the content-addressed store; a row exists only once its file
-- was written, so no row ever points to a missing file.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_item ON attachments (item_id);
CREATE INDEX attachments_blob ON attachments (commune_id, sha256);

CREATE TABLE journal (
    commune_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (commune_id, seq)
);
CREATE INDEX journal_entity ON journal (commune_id, entity, entity_id);

CREATE TABLE journal_heads (
    commune_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
