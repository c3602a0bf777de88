//! Account operations shared by the pages and the command line: create,
//! reset, disable, log in and out, issue and revoke tokens.

use super::secrets::{
    decoy_hash, hash_password, new_secret, new_token, secret_hash, verify_password,
};
use super::throttle::{LoginThrottle, Throttled};
use chrono::{DateTime, Duration, Utc};
use srs_domain::{NewPassword, Role, UserId, Username, ValidationErrors};
use srs_store::{Actor, ApiToken, Store, StoreError, User};

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown name, wrong password or disabled account: one message for
    /// all, so the answer does not tell which names exist.
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failures; try again later.
    #[error("too many failed sign-ins; try again in {} minute(s)", (.0.retry_after_secs + 59) / 60)]
    Throttled(Throttled),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

async fn hash_off_thread(password: NewPassword) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
}

/// Parses a name, role and password and creates the account.
pub async fn create_user(
    store: &Store,
    username: &str,
    role: Role,
    password: &str,
    actor: &Actor,
) -> Result<User, StoreError> {
    let mut errors = ValidationErrors::default();
    let username = errors.check("username", Username::parse(username));
    let password = errors.check("password", NewPassword::parse(password));
    let (Some(username), Some(password)) = (username, password) else {
        return Err(errors.into());
    };
    let hash = hash_off_thread(password)
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.create_user(&username, role, &hash, actor).await
}

/// Sets a new password and ends the account's sessions.
pub async fn reset_password(
    store: &Store,
    user: UserId,
    password: &str,
    actor: &Actor,
) -> Result<User, StoreError> {
    let password =
        NewPassword::parse(password).map_err(|e| ValidationErrors::single("password", e.0))?;
    let hash = hash_off_thread(password)
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let user = store
        .update_user(user, None, None, Some(&hash), actor)
        .await?;
    // A new password is the usual cure for a locked account: it unlocks it.
    store
        .clear_login_failures(&LoginThrottle::user_key(user.username.as_str()))
        .await?;
    Ok(user)
}

/// Unlocks an account the sign-in throttle holds (audited); returns it and
/// how many failed sign-ins were forgotten.
pub async fn unlock(store: &Store, user: UserId, actor: &Actor) -> Result<(User, u64), StoreError> {
    let account = store.get_user(user).await?;
    let key = LoginThrottle::user_key(account.username.as_str());
    let forgotten = store.unlock_user(user, &key, actor).await?;
    Ok((account, forgotten))
}

/// An account by name, or a clear not-found.
pub async fn find_user(store: &Store, username: &str) -> Result<User, StoreError> {
    let name = Username::parse(username).map_err(|e| ValidationErrors::single("username", e.0))?;
    match store.user_credentials(&name).await? {
        Some((user, _)) => Ok(user),
        None => Err(ValidationErrors::single(
            "username",
            format!("there is no account named '{name}'"),
        )
        .into()),
    }
}

/// Checks credentials under the throttle and starts a session; returns the
/// account and the session secret for the cookie.
pub async fn login(
    store: &Store,
    throttle: &LoginThrottle,
    username: &str,
    password: &str,
    client_addr: &str,
    session_lifetime: Duration,
) -> Result<(User, String), LoginError> {
    throttle
        .check(store, username, client_addr)
        .await?
        .map_err(LoginError::Throttled)?;
    let found = match Username::parse(username) {
        Ok(name) => store.user_credentials(&name).await?,
        Err(_) => None,
    };
    let (hash, user) = match &found {
        Some((user, hash)) => (hash.clone(), Some(user.clone())),
        None => (decoy_hash().to_owned(), None),
    };
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match user {
        Some(user) if matches && !user.disabled => {
            throttle.record_success(store, username).await?;
            let secret = new_secret();
            store
                .create_session(
                    &secret_hash(&secret),
                    user.id,
                    Utc::now() + session_lifetime,
                )
                .await?;
            tracing::info!(user = %user.username, "signed in");
            Ok((user, secret))
        }
        _ => {
            throttle
                .record_failure(store, username, client_addr)
                .await?;
            metrics::counter!("srs_login_failures_total").increment(1);
            tracing::warn!(client_addr, "sign-in failed");
            Err(LoginError::BadCredentials)
        }
    }
}

/// Issues a token for `user`; returns the secret (shown once) and its record.
pub async fn create_token(
    store: &Store,
    user: UserId,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
    actor: &Actor,
) -> Result<(String, ApiToken), StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationErrors::single("name", "token name must be 1-100 characters").into());
    }
    let secret = new_token();
    let token = store
        .create_token(user, name, &secret_hash(&secret), expires_at, actor)
        .await?;
    Ok((secret, token))
}

/// Creates the first admin from the environment when no account exists yet.
pub async fn bootstrap_admin(
    store: &Store,
    username: Option<&str>,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let (Some(username), Some(password)) = (username, password) else {
        if username.is_some() || password.is_some() {
            anyhow::bail!("SRS_BOOTSTRAP_ADMIN and SRS_BOOTSTRAP_PASSWORD must be set together");
        }
        return Ok(());
    };
    if store.count_users().await? > 0 {
        tracing::info!("accounts exist already; SRS_BOOTSTRAP_ADMIN ignored");
        return Ok(());
    }
    let actor = Actor::system("SRS_BOOTSTRAP_ADMIN");
    match create_user(store, username, Role::Admin, password, &actor).await {
        Ok(user) => {
            tracing::info!(user = %user.username, "first admin created from SRS_BOOTSTRAP_ADMIN");
            Ok(())
        }
        Err(StoreError::Invalid(v)) => {
            anyhow::bail!("SRS_BOOTSTRAP_ADMIN/SRS_BOOTSTRAP_PASSWORD: {v}")
        }
        Err(e) => Err(e.into()),
    }
}
