-- Issue 18, point 2: webhooks. A commune's administrator subscribes a URL of the commune's
-- other software to events; each event is queued for each subscription in the transaction
-- of the change it tells of, then delivered (signed) by the background sender, with retries.
-- `events` lists the event codes, separated by spaces (`item.registered item.assigned`).
-- `secret_sealed` is the signing secret sealed with the commune's data key (bound to the
-- subscription's id): it must be read to sign, so it cannot be kept as a hash.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    label TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_subscriptions_commune ON webhook_subscriptions (commune_id, created_at);
-- One row per event and subscription: the body sent (the same at every attempt), where it
-- stands (`pending`, `delivered`, `failed`), and the last answer. `event_key` makes an
-- event once per subscription (an item's "due soon" is looked for every day). Claimed by
-- a sender as the outbox is: `lease_token`, `leased_by`, and `next_attempt_at` moved by
-- the lease.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event_type TEXT NOT NULL,
    event_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_status BIGINT,
    last_answer TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    lease_token TEXT,
    leased_by TEXT,
    UNIQUE (subscription_id, event_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_commune ON webhook_deliveries (commune_id, created_at);
