-- Which folding rules (srs_domain::fold) the stored search_text and
-- name_key of students were written with. When srs changes the rules, it
-- rebuilds them once at start-up and records the new version here.
CREATE TABLE text_folding (
    id       INTEGER NOT NULL PRIMARY KEY,
    version  BIGINT NOT NULL
);
INSERT INTO text_folding (id, version) VALUES (1, 0);
