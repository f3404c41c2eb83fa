//! The directory: people by name and API tokens by the hash of their secret. Every server
//! reads tokens from here, so a revocation reaches all of them (each caches a valid token
//! for at most the HTTP layer's short TTL).

use casework_core::model::{ApiToken, Person};
use casework_core::ports::StoreError;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use crate::db::{enc, exec, json, jsonb, opt, rows};

/// Adds or replaces a person.
pub async fn put_person(c: &impl GenericClient, p: &Person) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO people (name, body) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body",
        &[&enc(&p.name), &jsonb(p)?],
    )
    .await?;
    Ok(())
}

/// A person by name.
pub async fn get_person(c: &impl GenericClient, name: &str) -> Result<Person, StoreError> {
    let row = opt(c, "SELECT body FROM people WHERE name = $1", &[&enc(name)])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("person {name:?}")))?;
    json(&row, 0)
}

/// Everyone, by name (byte order, as the other stores sort).
pub async fn list_people(c: &impl GenericClient) -> Result<Vec<Person>, StoreError> {
    let found = rows(
        c,
        "SELECT body FROM people ORDER BY name COLLATE \"C\"",
        &[],
    )
    .await?;
    found.iter().map(|r| json(r, 0)).collect()
}

/// Stores a new token; `Duplicate` when its id or hash is taken.
pub async fn put_token(c: &impl GenericClient, t: &ApiToken) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO tokens (id, hash, body) VALUES ($1, $2, $3)",
        &[&enc(&t.id), &enc(&t.hash), &jsonb(t)?],
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate(_) => StoreError::Duplicate(format!("token {}", t.id)),
        other => other,
    })?;
    Ok(())
}

/// The token with this hash, revoked or not.
pub async fn find_token(c: &impl GenericClient, hash: &str) -> Result<ApiToken, StoreError> {
    let row = opt(c, "SELECT body FROM tokens WHERE hash = $1", &[&enc(hash)])
        .await?
        .ok_or_else(|| StoreError::NotFound("token".into()))?;
    json(&row, 0)
}

/// Every token, oldest first.
pub async fn list_tokens(c: &impl GenericClient) -> Result<Vec<ApiToken>, StoreError> {
    let found = rows(c, "SELECT body FROM tokens ORDER BY seq", &[]).await?;
    found.iter().map(|r| json(r, 0)).collect()
}

/// Marks a token revoked, keeping the first revocation time (one statement, so two
/// servers revoking at once keep the earlier one that committed first).
pub async fn revoke_token(
    c: &impl GenericClient,
    id: &str,
    at: Timestamp,
) -> Result<ApiToken, StoreError> {
    let row = opt(
        c,
        "UPDATE tokens SET body = CASE WHEN body->'revoked_at' IS NULL OR body->'revoked_at' = 'null'
                                      THEN jsonb_set(body, '{revoked_at}', $2) ELSE body END
         WHERE id = $1 RETURNING body",
        &[&enc(id), &jsonb(&at)?],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
    json(&row, 0)
}
