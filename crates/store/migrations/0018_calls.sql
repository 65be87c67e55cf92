-- Issue 18, point 3: the phone system. The calls the commune's PBX tells of through the
-- call-event endpoint (Zammad's generic CTI format), one row per call, moved along
-- newCall -> answer -> hangup. `call_ref` is the PBX's callId (unique per commune: a
-- replayed event finds its call). `caller_number` is the outside party's number in the
-- contacts' form (`contacts.phone_key`), `contact_id` the contact it matched, `agent_id`
-- the user whose extension rang (or who picked up). A missed incoming call leaves a
-- callback item (`item_id`), registered in the transaction of the hang-up.
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    call_ref TEXT NOT NULL,
    direction TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    caller_number TEXT,
    contact_id TEXT REFERENCES contacts(id),
    agent_id TEXT REFERENCES users(id),
    users TEXT NOT NULL,
    state TEXT NOT NULL,
    cause TEXT,
    missed BIGINT NOT NULL DEFAULT 0,
    item_id TEXT REFERENCES items(id),
    started_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (commune_id, call_ref)
);
CREATE INDEX calls_state ON calls (commune_id, state, started_at);
CREATE INDEX calls_item ON calls (commune_id, item_id);
-- The extension (or direct number) that rings on a user's desk, to know whose phone a
-- call rings; unique within a commune when set.
ALTER TABLE users ADD COLUMN phone_extension TEXT;
CREATE UNIQUE INDEX users_phone_extension ON users (commune_id, phone_extension);
