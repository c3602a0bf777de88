-- Named accounts. Passwords are Argon2id hashes (PHC strings).
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    disabled_at    TEXT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT uq_users_username UNIQUE (username)
);

-- Server-side sessions, keyed by the SHA-256 of the cookie's secret, so a
-- copy of this table logs nobody in.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

-- API bearer tokens, stored hashed; shown once at creation.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NULL,
    last_used_at  TEXT NULL,
    revoked_at    TEXT NULL,
    CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash)
);
CREATE INDEX ix_api_tokens_user ON api_tokens (user_id);

-- Every change, written in the same transaction as the change itself.
-- The app has no statement that updates or deletes a row here.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_user_id  INTEGER NULL,
    action         TEXT NOT NULL,
    entity         TEXT NOT NULL,
    entity_id      INTEGER NULL,
    before_json    TEXT NULL,
    after_json     TEXT NULL,
    client_addr    TEXT NULL,
    request_id     TEXT NULL
);
CREATE INDEX ix_audit_entity ON audit_log (entity, entity_id, id);
CREATE INDEX ix_audit_at ON audit_log (at);
CREATE INDEX ix_audit_actor ON audit_log (actor_user_id, id);
CREATE INDEX ix_audit_action ON audit_log (action, id);
