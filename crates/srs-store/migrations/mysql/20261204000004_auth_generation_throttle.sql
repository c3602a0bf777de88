-- Every change that can end a credential (sign-out, a revoked token, a
-- disabled account, a new password or role) adds one to this row in its
-- transaction: app instances cache credentials checked against it, so the
-- change takes effect on the next request on every instance.
CREATE TABLE auth_changes (
    id  INT NOT NULL PRIMARY KEY,
    n   BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO auth_changes (id, n) VALUES (1, 0);

-- Failed sign-ins, shared by every app instance: one row per failure and
-- key (an account or a client address); rows older than the window go.
CREATE TABLE login_failures (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    throttle_key VARCHAR(200) NOT NULL,
    failed_at   DATETIME(6) NOT NULL,
    KEY login_failures_key_time (throttle_key, failed_at),
    KEY login_failures_time (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Idempotency keys expire: the purge finds old ones by time.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
