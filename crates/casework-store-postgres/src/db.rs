//! The boundary with tokio-postgres: errors translated into `StoreError`, timestamps in and
//! out of `timestamptz`, and small helpers that prepare (cached per connection) and run.

use std::borrow::Cow;

use casework_core::ids::CaseNumber;
use casework_core::ports::StoreError;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, Json, ToSql, Type, accepts, to_sql_checked};

/// Parameters of a statement.
pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Translates a tokio-postgres error. A lost or refused connection, a server shutting down,
/// a serialization failure or a deadlock mean "try again later"; a unique violation is a
/// duplicate; everything else is a fault inside the store.
pub fn db_err(e: tokio_postgres::Error) -> StoreError {
    let Some(code) = e.code() else {
        let text = match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        };
        return if text.starts_with("error deserializing") || text.starts_with("error serializing") {
            StoreError::Internal(text)
        } else {
            StoreError::Unavailable(format!("postgresql: {text}"))
        };
    };
    let text = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string());
    if *code == SqlState::UNIQUE_VIOLATION {
        return StoreError::Duplicate(format!("record ({text})"));
    }
    let class = &code.code()[..2];
    let retryable = matches!(
        class,
        "08" // connection exception
            | "53" // insufficient resources (disk full, too many connections)
            | "57" // operator intervention (shutdown, cancel)
            | "40" // transaction rollback (serialization failure, deadlock)
    ) || *code == SqlState::LOCK_NOT_AVAILABLE;
    if retryable {
        StoreError::Unavailable(format!("postgresql: {text}"))
    } else {
        StoreError::Internal(format!("postgresql: {text}"))
    }
}

/// Translates a pool error.
pub fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_err(e),
        other => StoreError::Unavailable(format!("postgresql pool: {other}")),
    }
}

/// A timestamp as PostgreSQL's `timestamptz` (microseconds; finer parts are cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub Timestamp);

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl ToSql for Ts {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let micros = self.0.as_microsecond() - PG_EPOCH_MICROS;
        out.extend_from_slice(&micros.to_be_bytes());
        Ok(IsNull::No)
    }

    accepts!(TIMESTAMPTZ);
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Ts {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into().map_err(|_| "bad timestamptz length")?;
        let micros = i64::from_be_bytes(bytes)
            .checked_add(PG_EPOCH_MICROS)
            .ok_or("timestamptz out of range")?;
        Ok(Ts(Timestamp::from_microsecond(micros)?))
    }

    accepts!(TIMESTAMPTZ);
}

/// A case number from a `bigint`.
pub fn number_of(n: i64) -> Result<CaseNumber, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(CaseNumber::new)
        .ok_or_else(|| StoreError::Internal(format!("bad case number {n}")))
}

/// A case number as a `bigint`.
pub fn num(n: CaseNumber) -> i64 {
    i64::try_from(n.get()).unwrap_or(i64::MAX)
}

/// A count or version as a `bigint`.
pub fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs a query (prepared once per connection).
pub async fn rows(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query(&st, params).await.map_err(db_err)
}

/// Runs a query that gives at most one row.
pub async fn opt(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_opt(&st, params).await.map_err(db_err)
}

/// Runs a query that gives exactly one row.
pub async fn one(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_one(&st, params).await.map_err(db_err)
}

/// Runs a statement; the number of rows it changed.
pub async fn exec(
    c: &impl GenericClient,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    let st = c.prepare_cached(sql).await.map_err(db_err)?;
    c.execute(&st, params).await.map_err(db_err)
}

/// A column, decoded.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Internal(format!("stored value does not decode: {e}")))
}

/// PostgreSQL's `text` and `jsonb` cannot hold U+0000, which a user may type. Strings are
/// stored with it written as this private-use character and `0`, and this character itself
/// doubled; reading restores them: round trips stay exact, and SQL never sees a NUL.
const ESCAPE: char = '\u{E000}';

/// A string as stored (see [`ESCAPE`]).
pub fn enc(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\0' => {
                out.push(ESCAPE);
                out.push('0');
            }
            ESCAPE => {
                out.push(ESCAPE);
                out.push(ESCAPE);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A stored string restored (see [`ESCAPE`]).
pub fn dec(s: String) -> String {
    if !s.contains(ESCAPE) {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            match chars.next() {
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push(ESCAPE),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Applies `f` to every string (and key) of a JSON value.
fn map_strings(v: serde_json::Value, f: &impl Fn(String) -> String) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| map_strings(i, f)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (f(k), map_strings(v, f)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether some string (or key) of a JSON value satisfies `pred`.
fn any_string(v: &serde_json::Value, pred: &impl Fn(&str) -> bool) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => pred(s),
        Value::Array(items) => items.iter().any(|i| any_string(i, pred)),
        Value::Object(fields) => fields.iter().any(|(k, v)| pred(k) || any_string(v, pred)),
        _ => false,
    }
}

/// A value as a `jsonb` parameter, strings stored as [`enc`] says.
pub fn jsonb<T: serde::Serialize>(v: &T) -> Result<Json<serde_json::Value>, StoreError> {
    let value = serde_json::to_value(v)
        .map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))?;
    Ok(Json(
        if any_string(&value, &|s| s.contains(['\0', ESCAPE])) {
            map_strings(value, &|s| enc(&s).into_owned())
        } else {
            value
        },
    ))
}

/// A `jsonb` column, restored and decoded into `T`.
pub fn json<T: serde::de::DeserializeOwned>(row: &Row, i: usize) -> Result<T, StoreError> {
    let v: serde_json::Value = get(row, i)?;
    let v = if any_string(&v, &|s| s.contains(ESCAPE)) {
        map_strings(v, &dec)
    } else {
        v
    };
    serde_json::from_value(v)
        .map_err(|e| StoreError::Internal(format!("stored JSON does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_the_escape_round_trip_and_never_reach_sql() {
        for s in [
            "plain",
            "a\0b",
            "\0",
            "x\u{E000}0y",
            "\u{E000}",
            "\u{E000}\0\u{E000}\u{E000}",
        ] {
            let stored = enc(s);
            assert!(!stored.contains('\0'), "{s:?}");
            assert_eq!(dec(stored.into_owned()), s);
        }
        assert!(matches!(enc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_postgres_epoch_is_2000() {
        let t: Timestamp = "2000-01-01T00:00:00Z".parse().unwrap_or_default();
        assert_eq!(t.as_microsecond(), PG_EPOCH_MICROS);
    }
}
