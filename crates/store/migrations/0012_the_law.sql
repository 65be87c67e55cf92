-- Issue 16, the law.
-- Alsace-Moselle: Good Friday is a holiday only in communes with a Protestant temple or a
-- mixed church (code du travail, L3134-13); 1 keeps what every commune there had before.
ALTER TABLE communes ADD COLUMN good_friday BIGINT NOT NULL DEFAULT 1;
