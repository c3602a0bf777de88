//! Accounts, sessions and API tokens. Secrets arrive here already hashed.

use crate::audit::{to_json, write_audit, Actor};
use crate::constraints::UniqueKey;
use crate::generation::{CachedSession, CachedToken};
use crate::write_tx::Counter;
use crate::{on_pool, Store, StoreError, StoreResult};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use srs_domain::{AuditAction, Role, TokenId, UserId, Username};

/// How often a session's or token's last use is written: not on every
/// request, which would turn every read into a write.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// An account as shown to people: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Server-assigned id.
    #[schema(value_type = i64)]
    pub id: UserId,
    /// Login name.
    #[schema(value_type = String)]
    pub username: Username,
    /// What it may do.
    pub role: Role,
    /// Disabled accounts cannot log in or use tokens.
    pub disabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An API token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Server-assigned id.
    #[schema(value_type = i64)]
    pub id: TokenId,
    /// Whose token it is.
    #[schema(value_type = String)]
    pub username: Username,
    /// The label it was created with.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> StoreResult<Self> {
        let bad = |e: srs_domain::ParseError| StoreError::Corrupt(format!("user {}: {e}", r.id));
        Ok(User {
            id: UserId::new(r.id),
            username: Username::parse(&r.username).map_err(bad)?,
            role: Role::parse(&r.role).map_err(bad)?,
            disabled: r.disabled_at.is_some(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct TokenAuthRow {
    #[sqlx(flatten)]
    user: UserRow,
    token_id: i64,
    token_name: String,
    token_created_at: DateTime<Utc>,
    token_expires_at: Option<DateTime<Utc>>,
    token_last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    username: String,
    name: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> StoreResult<Self> {
        Ok(ApiToken {
            id: TokenId::new(r.id),
            username: Username::parse(&r.username)
                .map_err(|e| StoreError::Corrupt(format!("token {}: {e}", r.id)))?,
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

const USER_COLUMNS: &str = "u.id, u.username, u.role, u.disabled_at, u.created_at, u.updated_at";
const TOKEN_SELECT: &str =
    "SELECT t.id, u.username, t.name, t.created_at, t.expires_at, t.last_used_at, \
    t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id";

impl Store {
    /// How many accounts exist.
    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(
            on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await?),
        )
    }

    /// Every account, by name.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
        let rows: Vec<UserRow> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(User::try_from).collect()
    }

    /// One account by id.
    pub async fn get_user(&self, id: UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?");
        let row: Option<UserRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id.get()).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// An account and its password hash, by login name.
    pub async fn user_credentials(
        &self,
        username: &Username,
    ) -> StoreResult<Option<(User, String)>> {
        let sql =
            format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?");
        let row: Option<CredentialsRow> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(username.as_str()).fetch_optional(p).await?
        });
        let Some(row) = row else { return Ok(None) };
        Ok(Some((User::try_from(row.user)?, row.password_hash)))
    }

    /// Creates an account with an already-hashed password.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(
        &self,
        username: &Username,
        role: Role,
        password_hash: &str,
        actor: &Actor,
    ) -> StoreResult<User> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let inserted = tx
            .execute(
                "INSERT INTO users (username, password_hash, role, disabled_at, created_at, updated_at) \
                 VALUES (?, ?, ?, NULL, ?, ?)",
                &[
                    username.as_str().into(),
                    password_hash.into(),
                    role.as_str().into(),
                    now.into(),
                    now.into(),
                ],
            )
            .await;
        let id = match inserted {
            Ok(done) => done.inserted_id,
            Err(e) if UniqueKey::violated_by(&e) == Some(UniqueKey::Username) => {
                return Err(UniqueKey::Username.taken(username.as_str()))
            }
            Err(e) => return Err(e.into()),
        };
        let after = serde_json::json!({"id": id, "username": username, "role": role}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::UserCreate,
            "user",
            Some(id),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user_id = id, role = %role, "account created");
        self.get_user(UserId::new(id)).await
    }

    /// Changes an account's role, disabled flag or password hash; disabling
    /// or a new password ends its sessions.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn update_user(
        &self,
        id: UserId,
        role: Option<Role>,
        disabled: Option<bool>,
        password_hash: Option<&str>,
        actor: &Actor,
    ) -> StoreResult<User> {
        let before = self.get_user(id).await?;
        let role = role.unwrap_or(before.role);
        let disabled = disabled.unwrap_or(before.disabled);
        let now = Utc::now();
        let disabled_at = if disabled { Some(now) } else { None };
        let action = match (password_hash.is_some(), disabled != before.disabled) {
            (true, _) => srs_domain::AuditAction::UserResetPassword,
            (false, true) if disabled => srs_domain::AuditAction::UserDisable,
            (false, true) => srs_domain::AuditAction::UserEnable,
            _ => srs_domain::AuditAction::UserUpdate,
        };
        let before_json = to_json(&before)?;
        let end_sessions = disabled || password_hash.is_some();
        let mut tx = self.begin_write().await?;
        tx.execute(
            "UPDATE users SET role = ?, disabled_at = CASE WHEN ? THEN COALESCE(disabled_at, ?) ELSE NULL END, \
             password_hash = COALESCE(?, password_hash), updated_at = ? WHERE id = ?",
            &[
                role.as_str().into(),
                disabled_at.is_some().into(),
                now.into(),
                password_hash.into(),
                now.into(),
                id.get().into(),
            ],
        )
        .await?;
        if end_sessions {
            tx.execute("DELETE FROM sessions WHERE user_id = ?", &[id.get().into()])
                .await?;
        }
        // A new role, a disabled account or a new password: cached
        // credentials of this account are stale on every instance.
        tx.bump(Counter::Auth).await?;
        let after = serde_json::json!({"id": id, "username": before.username, "role": role, "disabled": disabled, "password_changed": password_hash.is_some()}).to_string();
        write_audit(
            &mut tx,
            actor,
            action,
            "user",
            Some(id.get()),
            Some(&before_json),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(action = %action, "account changed");
        self.get_user(id).await
    }

    /// Unlocks an account the sign-in throttle holds: forgets the failed
    /// sign-ins counted under `failures_key` and audits it as
    /// `user.unlock`; returns how many were forgotten.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn unlock_user(
        &self,
        id: UserId,
        failures_key: &str,
        actor: &Actor,
    ) -> StoreResult<u64> {
        let user = self.get_user(id).await?;
        let mut tx = self.begin_write().await?;
        let forgotten = tx
            .execute(
                "DELETE FROM login_failures WHERE throttle_key = ?",
                &[failures_key.into()],
            )
            .await?
            .rows;
        let before = serde_json::json!({"username": user.username, "failed_sign_ins": forgotten})
            .to_string();
        let after =
            serde_json::json!({"username": user.username, "failed_sign_ins": 0}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::UserUnlock,
            "user",
            Some(id.get()),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(forgotten, "account unlocked");
        Ok(forgotten)
    }

    /// Starts a session for `user` under the hash of its secret.
    pub async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        self.write_one(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            &[
                id_hash.into(),
                user.get().into(),
                now.into(),
                now.into(),
                expires_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// The live account behind a session, if the session is neither expired
    /// nor idle longer than `idle`. Answered from the cache when nothing that
    /// can end a credential changed since it was read (checked against the
    /// credential generation, so a sign-out elsewhere counts at once); its
    /// last use is written at most once a minute.
    pub async fn session_user(&self, id_hash: &str, idle: Duration) -> StoreResult<Option<User>> {
        let generation = self.generations().await?.auth;
        let now = Utc::now();
        let cached = self
            .cache
            .session(id_hash, generation)
            // Looks idle here, but another instance may have seen it since:
            // the database says.
            .filter(|s| s.expires_at > now && s.last_seen_at > now - idle);
        let session = match cached {
            Some(s) => s,
            None => {
                let sql = format!(
                    "SELECT {USER_COLUMNS}, s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND u.disabled_at IS NULL"
                );
                let row: Option<SessionRow> = on_pool!(self, p => {
                    sqlx::query_as(&sql).bind(id_hash).bind(now).bind(now - idle).fetch_optional(p).await?
                });
                let Some(row) = row else {
                    return Ok(None);
                };
                CachedSession {
                    user: User::try_from(row.user)?,
                    last_seen_at: row.last_seen_at,
                    expires_at: row.expires_at,
                }
            }
        };
        let mut session = session;
        if now - session.last_seen_at > TOUCH_EVERY {
            self.write_one(
                "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
                &[now.into(), id_hash.into()],
            )
            .await?;
            session.last_seen_at = now;
        }
        self.cache
            .remember_session(id_hash, generation, session.clone());
        Ok(Some(session.user))
    }

    /// Ends a session, on every instance from its next request on.
    pub async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        tx.execute("DELETE FROM sessions WHERE id_hash = ?", &[id_hash.into()])
            .await?;
        tx.bump(Counter::Auth).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a new token's hash for `user`.
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    pub async fn create_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
        actor: &Actor,
    ) -> StoreResult<ApiToken> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let id = tx
            .execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at, last_used_at, revoked_at) \
                 VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                &[
                    user.get().into(),
                    name.into(),
                    token_hash.into(),
                    now.into(),
                    expires_at.into(),
                ],
            )
            .await?
            .inserted_id;
        let after =
            serde_json::json!({"id": id, "user_id": user, "name": name, "expires_at": expires_at})
                .to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::TokenCreate,
            "token",
            Some(id),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(token_id = id, "API token created");
        self.get_token(TokenId::new(id)).await
    }

    /// One token by id.
    pub async fn get_token(&self, id: TokenId) -> StoreResult<ApiToken> {
        let sql = format!("{TOKEN_SELECT} WHERE t.id = ?");
        let row: Option<TokenRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id.get()).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Tokens, all or one account's, newest first.
    pub async fn list_tokens(&self, user: Option<UserId>) -> StoreResult<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = match user {
            Some(u) => {
                let sql = format!("{TOKEN_SELECT} WHERE t.user_id = ? ORDER BY t.id DESC");
                on_pool!(self, p => sqlx::query_as(&sql).bind(u.get()).fetch_all(p).await?)
            }
            None => {
                let sql = format!("{TOKEN_SELECT} ORDER BY t.id DESC");
                on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?)
            }
        };
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    /// The live account behind a token that is neither revoked nor expired.
    /// One query: it runs on every API request.
    pub async fn token_user(&self, token_hash: &str) -> StoreResult<Option<(User, ApiToken)>> {
        let generation = self.generations().await?.auth;
        let now = Utc::now();
        let cached = self
            .cache
            .token(token_hash, generation)
            .filter(|t| t.token.expires_at.is_none_or(|e| e > now));
        let mut found = match cached {
            Some(t) => t,
            None => {
                let sql = format!(
                    "SELECT {USER_COLUMNS}, t.id AS token_id, t.name AS token_name, t.created_at AS token_created_at, \
                     t.expires_at AS token_expires_at, t.last_used_at AS token_last_used_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) \
                     AND u.disabled_at IS NULL"
                );
                let row: Option<TokenAuthRow> = on_pool!(self, p => {
                    sqlx::query_as(&sql).bind(token_hash).bind(now).fetch_optional(p).await?
                });
                let Some(row) = row else { return Ok(None) };
                let user = User::try_from(row.user)?;
                let token = ApiToken {
                    id: TokenId::new(row.token_id),
                    username: user.username.clone(),
                    name: row.token_name,
                    created_at: row.token_created_at,
                    expires_at: row.token_expires_at,
                    last_used_at: row.token_last_used_at,
                    revoked_at: None,
                };
                CachedToken { user, token }
            }
        };
        if found
            .token
            .last_used_at
            .is_none_or(|t| now - t > TOUCH_EVERY)
        {
            self.write_one(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                &[now.into(), found.token.id.get().into()],
            )
            .await?;
            found.token.last_used_at = Some(now);
        }
        self.cache
            .remember_token(token_hash, generation, found.clone());
        Ok(Some((found.user, found.token)))
    }

    /// Revokes a token at once.
    #[tracing::instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke_token(&self, id: TokenId, actor: &Actor) -> StoreResult<ApiToken> {
        let before = self.get_token(id).await?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let before_json = to_json(&before)?;
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        tx.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            &[now.into(), id.get().into()],
        )
        .await?;
        tx.bump(Counter::Auth).await?;
        let after = serde_json::json!({"id": id, "revoked_at": now}).to_string();
        write_audit(
            &mut tx,
            actor,
            AuditAction::TokenRevoke,
            "token",
            Some(id.get()),
            Some(&before_json),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::info!("API token revoked");
        self.get_token(id).await
    }
}
