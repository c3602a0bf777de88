-- Every change that can end a credential (sign-out, a revoked token, a
-- disabled account, a new password or role) adds one to this row in its
-- transaction: credentials are cached checked against it, so the change
-- takes effect on the next request.
CREATE TABLE auth_changes (
    id  INTEGER PRIMARY KEY,
    n   INTEGER NOT NULL
);
INSERT INTO auth_changes (id, n) VALUES (1, 0);

-- Failed sign-ins, shared by every app instance: one row per failure and
-- key (an account or a client address); rows older than the window go.
CREATE TABLE login_failures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    throttle_key TEXT NOT NULL,
    failed_at    TEXT NOT NULL
);
CREATE INDEX login_failures_key_time ON login_failures (throttle_key, failed_at);
CREATE INDEX login_failures_time ON login_failures (failed_at);

-- Idempotency keys expire: the purge finds old ones by time.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
