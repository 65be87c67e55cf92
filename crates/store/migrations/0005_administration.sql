-- Administration: what a commune prints on its letters (letterhead text, logo kept in the
-- file store by its hash), services that can be retired without losing their history, and
-- host administrators, who create communes but never read their mail.

ALTER TABLE communes ADD COLUMN letterhead TEXT;
ALTER TABLE communes ADD COLUMN logo_sha256 TEXT;
ALTER TABLE communes ADD COLUMN logo_type TEXT;
ALTER TABLE services ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN host_admin BIGINT NOT NULL DEFAULT 0;

-- The register lists a year newest first: with the id in the index the order needs no
-- temporary sort.
DROP INDEX items_by_date;
CREATE INDEX items_by_date ON items (commune_id, registered_at, id);
