-- Issue 17: the commune's logo in every page's header. A small rendition (at most 96 pixels
-- high) is made when the logo is uploaded, kept in the file store by content hash beside
-- the original, with its size in pixels so that the page reserves its place.
ALTER TABLE communes ADD COLUMN logo_small_sha256 TEXT;
ALTER TABLE communes ADD COLUMN logo_small_width BIGINT;
ALTER TABLE communes ADD COLUMN logo_small_height BIGINT;
