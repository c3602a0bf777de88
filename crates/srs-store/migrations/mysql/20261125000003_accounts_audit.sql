-- Named accounts. Passwords are Argon2id hashes (PHC strings).
CREATE TABLE users (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username       VARCHAR(64) NOT NULL,
    password_hash  VARCHAR(255) NOT NULL,
    role           VARCHAR(16) NOT NULL,
    disabled_at    DATETIME(6) NULL,
    created_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL,
    UNIQUE KEY username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Server-side sessions, keyed by the SHA-256 of the cookie's secret.
CREATE TABLE sessions (
    id_hash       CHAR(64) NOT NULL PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    last_seen_at  DATETIME(6) NOT NULL,
    expires_at    DATETIME(6) NOT NULL,
    KEY ix_sessions_user (user_id),
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- API bearer tokens, stored hashed; shown once at creation.
CREATE TABLE api_tokens (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    name          VARCHAR(100) NOT NULL,
    token_hash    CHAR(64) NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    expires_at    DATETIME(6) NULL,
    last_used_at  DATETIME(6) NULL,
    revoked_at    DATETIME(6) NULL,
    UNIQUE KEY token_hash (token_hash),
    KEY ix_api_tokens_user (user_id),
    CONSTRAINT fk_api_tokens_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every change, written in the same transaction as the change itself.
-- The app has no statement that updates or deletes a row here.
CREATE TABLE audit_log (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at             DATETIME(6) NOT NULL,
    actor          VARCHAR(200) NOT NULL,
    actor_user_id  BIGINT NULL,
    action         VARCHAR(40) NOT NULL,
    entity         VARCHAR(20) NOT NULL,
    entity_id      BIGINT NULL,
    before_json    MEDIUMTEXT NULL,
    after_json     MEDIUMTEXT NULL,
    client_addr    VARCHAR(64) NULL,
    request_id     VARCHAR(64) NULL,
    KEY ix_audit_entity (entity, entity_id, id),
    KEY ix_audit_at (at),
    KEY ix_audit_actor (actor_user_id, id),
    KEY ix_audit_action (action, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
