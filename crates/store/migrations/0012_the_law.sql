-- Issue 16, the law.
-- Alsace-Moselle: Good Friday is a holiday only in communes with a Protestant temple or a
-- mixed church (code du travail, L3134-13); 1 keeps what every commune there had before.
ALTER TABLE communes ADD COLUMN good_friday BIGINT NOT NULL DEFAULT 1;
-- RGPD art. 13(1)(b): the contact details of the commune's data protection officer, in the
-- information notice of every public form.
ALTER TABLE communes ADD COLUMN dpo_contact TEXT;
-- The forms' consent boxes are gone (consent is not the lawful basis, RGPD art. 6(1)(e));
-- their text becomes the form's own lines in the information notice, and a text that only
-- asked for consent says nothing there.
UPDATE request_forms SET consent = '' WHERE consent LIKE 'J''accepte%';
-- Urbanism runs under the Code de l'urbanisme (R423-23 ff.), not the CRPA: the default type
-- that still reads "one month, silence worth acceptance" gets the urbanism rule (no CRPA
-- date). Items already registered keep the dates their acknowledgement gave.
UPDATE doctypes SET silence = 'urbanism'
 WHERE code = 'urbanisme' AND silence = 'acceptance' AND delay = '1m';
-- RGPD (accountability, art. 5(2) and 32): who opened which contact's file, and when. Not
-- in the journal: a view changes nothing in the register, and journaling reads would move
-- the journal position, which keys every read cache, on each page opened.
CREATE TABLE personal_data_views (
    id TEXT PRIMARY KEY,
    commune_id TEXT NOT NULL REFERENCES communes(id),
    contact_id TEXT NOT NULL,
    user_id TEXT,
    viewed_at TEXT NOT NULL
);
CREATE INDEX personal_data_views_contact ON personal_data_views (commune_id, contact_id, viewed_at);
