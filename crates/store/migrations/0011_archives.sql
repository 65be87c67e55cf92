-- Retention, legal holds, eliminations with the visa of the Archives départementales, and
-- SEDA transfers (Code du patrimoine L212-2, R212-14).

-- The event a document type's DUA is counted from: closing or registration.
ALTER TABLE doctypes ADD COLUMN retention_start TEXT NOT NULL DEFAULT 'closing';

-- A file of an eliminated item: the row stays (the register says what there was), the blob
-- is deleted once nothing else refers to it.
ALTER TABLE attachments ADD COLUMN eliminated_at TEXT;

-- A legal hold (litigation, audit, request in progress) stops any elimination or transfer.
CREATE TABLE legal_holds (
    commune_id TEXT NOT NULL REFERENCES communes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (commune_id, item_id)
);

-- A proposal of elimination (bordereau) sent to the Archives départementales, its visa, and
-- the elimination done under it.
CREATE TABLE eliminations (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    number TEXT NOT NULL,
    state TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    visa_by TEXT,
    visa_on TEXT,
    visa_reference TEXT,
    visa_recorded_at TEXT,
    visa_recorded_by TEXT,
    eliminated_at TEXT,
    eliminated_by TEXT,
    UNIQUE (commune_id, number)
);

CREATE TABLE elimination_items (
    elimination_id TEXT NOT NULL REFERENCES eliminations(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    PRIMARY KEY (elimination_id, item_id)
);
CREATE INDEX elimination_items_item ON elimination_items (item_id);

-- A SEDA ArchiveTransfer: the message (a blob of the file store), the acknowledgement and
-- the reply of the archives.
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    identifier TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    message_sha256 TEXT NOT NULL,
    acknowledged_at TEXT,
    reply_code TEXT,
    reply_identifier TEXT,
    replied_at TEXT,
    reply_sha256 TEXT,
    UNIQUE (commune_id, identifier)
);

CREATE TABLE transfer_items (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    PRIMARY KEY (transfer_id, item_id)
);
CREATE INDEX transfer_items_item ON transfer_items (item_id);

-- The default table (domain::retention::default_table) counts these from registration.
UPDATE doctypes SET retention_start = 'registration' WHERE code IN ('invitation', 'appel');
