//! Sign-in state on PostgreSQL: password hashes by person, sessions and one-time links by
//! the SHA-256 of their secret, failed sign-ins by throttle key. Every server of a
//! deployment reads the same rows, so a sign-out or a spent link holds on all of them; a
//! link is spent with one `DELETE … RETURNING`, so two servers cannot both use it.

use casework_core::model::OutboxMessage;
use casework_core::ports::{EndSessions, Session, SessionAndPerson, SignInLink, StoreError};
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use crate::db::{Ts, db_err, enc, exec, get, json, jsonb, one, opt};

/// Sets a person's password hash.
pub async fn set_password(
    c: &impl GenericClient,
    person: &str,
    hash: &str,
) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO passwords (person, hash) VALUES ($1, $2)
         ON CONFLICT (person) DO UPDATE SET hash = excluded.hash",
        &[&enc(person), &hash],
    )
    .await?;
    Ok(())
}

/// A person's password hash.
pub async fn password(c: &impl GenericClient, person: &str) -> Result<String, StoreError> {
    let row = opt(
        c,
        "SELECT hash FROM passwords WHERE person = $1",
        &[&enc(person)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("password of {person:?}")))?;
    get(&row, 0)
}

/// Stores a new session.
pub async fn put_session(c: &impl GenericClient, s: &Session) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO sessions (id, user_key, body, last_seen_at) VALUES ($1, $2, $3, $4)",
        &[&s.id, &enc(&s.user.key()), &jsonb(s)?, &Ts(s.last_seen_at)],
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate(_) => StoreError::Duplicate("session".into()),
        other => other,
    })?;
    Ok(())
}

/// The session with this id, its last use from its column.
pub async fn get_session(c: &impl GenericClient, id: &str) -> Result<Session, StoreError> {
    let row = opt(
        c,
        "SELECT body, last_seen_at FROM sessions WHERE id = $1",
        &[&id],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound("session".into()))?;
    let mut session: Session = json(&row, 0)?;
    session.last_seen_at = get::<Ts>(&row, 1)?.0;
    Ok(session)
}

/// The session with this id and the person a staff session names, in one statement: the
/// person is joined by the session's user key (`person:` and the stored name).
pub async fn session_and_person(
    c: &impl GenericClient,
    id: &str,
) -> Result<SessionAndPerson, StoreError> {
    let row = opt(
        c,
        "SELECT s.body, s.last_seen_at, p.body FROM sessions s
         LEFT JOIN people p
           ON starts_with(s.user_key, 'person:') AND p.name = substr(s.user_key, 8)
         WHERE s.id = $1",
        &[&id],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound("session".into()))?;
    let mut session: Session = json(&row, 0)?;
    session.last_seen_at = get::<Ts>(&row, 1)?.0;
    let person = match get::<Option<serde_json::Value>>(&row, 2)? {
        Some(_) => Some(json(&row, 2)?),
        None => None,
    };
    Ok(SessionAndPerson { session, person })
}

/// Moves a session's last use forward to `at`.
pub async fn touch_session(
    c: &impl GenericClient,
    id: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let n = exec(
        c,
        "UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
        &[&id, &Ts(at)],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound("session".into()));
    }
    Ok(())
}

/// Ends sessions; how many ended.
pub async fn end_sessions(c: &impl GenericClient, which: &EndSessions) -> Result<u64, StoreError> {
    match which {
        EndSessions::One { id } => exec(c, "DELETE FROM sessions WHERE id = $1", &[id]).await,
        EndSessions::Of { user } => {
            exec(c, "DELETE FROM sessions WHERE user_key = $1", &[&enc(user)]).await
        }
    }
}

/// Stores a new sign-in link and queues its email, in one transaction.
pub async fn put_sign_in_link(
    client: &mut deadpool_postgres::Client,
    l: &SignInLink,
    message: &OutboxMessage,
) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    exec(
        &tx,
        "INSERT INTO sign_in_links (hash, body, expires_at) VALUES ($1, $2, $3)",
        &[&l.hash, &jsonb(l)?, &Ts(l.expires_at)],
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate(_) => StoreError::Duplicate("sign-in link".into()),
        other => other,
    })?;
    crate::outbox::insert(&tx, message).await?;
    tx.commit().await.map_err(db_err)
}

/// Uses a sign-in link: deletes it, and answers it when it had not expired at `now`.
pub async fn use_sign_in_link(
    c: &impl GenericClient,
    hash: &str,
    now: Timestamp,
) -> Result<SignInLink, StoreError> {
    let row = opt(
        c,
        "DELETE FROM sign_in_links WHERE hash = $1 RETURNING body",
        &[&hash],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound("sign-in link".into()))?;
    let link: SignInLink = json(&row, 0)?;
    if link.expires_at <= now {
        return Err(StoreError::NotFound("sign-in link".into()));
    }
    Ok(link)
}

/// Records a failed sign-in under each key and forgets the keys' older failures.
pub async fn sign_in_failed(
    client: &mut deadpool_postgres::Client,
    keys: &[String],
    at: Timestamp,
    forget_before: Timestamp,
) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    for key in keys {
        exec(
            &tx,
            "DELETE FROM sign_in_failures WHERE key = $1 AND at < $2",
            &[&enc(key), &Ts(forget_before)],
        )
        .await?;
        exec(
            &tx,
            "INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)",
            &[&enc(key), &Ts(at)],
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)
}

/// Failed sign-ins under `key` since `since`.
pub async fn sign_in_failures(
    c: &impl GenericClient,
    key: &str,
    since: Timestamp,
) -> Result<u32, StoreError> {
    let row = one(
        c,
        "SELECT count(*) FROM sign_in_failures WHERE key = $1 AND at >= $2",
        &[&enc(key), &Ts(since)],
    )
    .await?;
    let n: i64 = get(&row, 0)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
