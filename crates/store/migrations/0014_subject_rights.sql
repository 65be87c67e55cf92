-- Issue 16, the data subject's rights (RGPD art. 16-18).
-- Restriction of processing (art. 18): the contact is hidden from the directory and the
-- suggestions, its record and the register lines naming it are kept.
ALTER TABLE contacts ADD COLUMN restricted_at TEXT;
-- Erasure (art. 17) where the archives law allows it: the contact's fields are replaced by
-- a pseudonym; the row stays so that the journal and the register lines still resolve.
ALTER TABLE contacts ADD COLUMN erased_at TEXT;
