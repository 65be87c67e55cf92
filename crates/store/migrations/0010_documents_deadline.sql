-- L114-5: the date the commune set for missing documents, part of the request for them.
-- A rejection by silence is suspended until then at most (al. 3); later acknowledgements
-- state it. Empty for requests for documents made before it was recorded.
ALTER TABLE items ADD COLUMN incomplete_deadline TEXT;
