-- Open items (still awaiting an answer) are what the inbox shows and counts; over the years
-- most items are closed, so partial indexes keep those lists small and fast. The predicate
-- is written exactly as the queries write it, so both SQLite and PostgreSQL use them.

CREATE INDEX items_open_due ON items (commune_id, due_date)
    WHERE status NOT IN ('reply_sent', 'closed', 'archived', 'destroyed');

CREATE INDEX items_open_by_date ON items (commune_id, registered_at)
    WHERE status NOT IN ('reply_sent', 'closed', 'archived', 'destroyed');

-- Lists by person or service are shown newest first: index them in that order, so a few
-- rows are read instead of every open item. New items to route are found by direction.
DROP INDEX items_by_assignee;
CREATE INDEX items_by_assignee ON items (commune_id, assignee_id, registered_at);
DROP INDEX items_by_service;
CREATE INDEX items_by_service ON items (commune_id, service_id, registered_at);
CREATE INDEX items_by_direction_status ON items (commune_id, direction, status);
