-- Issue 15: several `serve` nodes on one database, each piece of work done once.
-- Each claim of a job or an email writes a fresh token; completing it checks the token, so
-- a node whose lease was taken over (it stalled past the lease) cannot complete the work a
-- second time.
-- `leased_by` names the node instance holding the lease (the nodes page, and what a node
-- killed mid-work left behind).
ALTER TABLE jobs ADD COLUMN lease_token TEXT;
ALTER TABLE jobs ADD COLUMN leased_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_token TEXT;
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
-- Work only one node may do at a time (a mailbox, a drop folder, a round of the deadline
-- watch): held by a node's instance until `expires_at`, renewed while it works, released
-- when it is done; a node that dies leaves it to expire.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    node_name TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- Work done once per commune and day (the implicit decisions, the morning digests): the
-- row is claimed with a lease and marked done; a claim whose node died is taken again once
-- its lease has run out.
CREATE TABLE daily_runs (
    task TEXT NOT NULL,
    commune_id TEXT NOT NULL,
    day TEXT NOT NULL,
    holder TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    done_at TEXT,
    PRIMARY KEY (task, commune_id, day)
);
-- Each running node's heartbeat, for the health report and the host administrator's page.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    background BIGINT NOT NULL,
    stopped_at TEXT,
    loops_json TEXT NOT NULL DEFAULT '[]'
);
-- The limits every node shares (failed logins, public submissions): one row per event.
CREATE TABLE rate_events (
    rate_key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (rate_key, at);
CREATE INDEX rate_events_at ON rate_events (at);
