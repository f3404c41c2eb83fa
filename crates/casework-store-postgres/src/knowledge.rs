//! Knowledge: articles (searchable by everyone) and defects (staff only), each indexed in
//! the same transaction that stores it.

use casework_core::model::{Article, Defect, NewArticle};
use casework_core::ports::{Imported, StoreError};
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use crate::db::{db_err, enc, exec, get, json, jsonb, opt};
use crate::text::{Weight, tsvector};

/// Adds an article with the next id and indexes it for everyone.
pub async fn add_article(
    client: &mut deadpool_postgres::Client,
    a: &NewArticle,
    at: Timestamp,
) -> Result<Article, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    let id: i64 = get(
        &crate::db::one(
            &tx,
            "SELECT nextval(pg_get_serial_sequence('articles', 'id'))",
            &[],
        )
        .await?,
        0,
    )?;
    let article = Article {
        id: u64::try_from(id).map_err(|_| StoreError::Internal(format!("bad article id {id}")))?,
        title: a.title.clone(),
        body: a.body.clone(),
        url: a.url.clone(),
        created_at: at,
    };
    insert_article(&tx, &article).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(article)
}

/// Stores an article under its own id, with its search row.
pub async fn insert_article(c: &impl GenericClient, a: &Article) -> Result<(), StoreError> {
    let id =
        i64::try_from(a.id).map_err(|_| StoreError::Invalid(format!("article id {}", a.id)))?;
    exec(
        c,
        "INSERT INTO articles (id, body) VALUES ($1, $2)",
        &[&id, &jsonb(a)?],
    )
    .await?;
    exec(
        c,
        "INSERT INTO search_public (kind, doc, seq, tsv) VALUES ('article', $1, 0, $2::text::tsvector)",
        &[
            &id,
            &tsvector(&[(&a.title, Weight::Title), (&a.body, Weight::Body)]),
        ],
    )
    .await?;
    Ok(())
}

/// Articles by ascending id after `after`.
pub async fn list_articles(
    c: &impl GenericClient,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<Article>, StoreError> {
    let after = after.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
    let found = crate::db::rows(
        c,
        "SELECT body FROM articles WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after, &i64::from(limit)],
    )
    .await?;
    found.iter().map(|r| json(r, 0)).collect()
}

/// Writes an article under its own id, and moves the id sequence past it.
pub async fn import_article(
    client: &mut deadpool_postgres::Client,
    a: &Article,
) -> Result<Imported, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    match get_article(&tx, a.id).await {
        Ok(there) if there == *a => return Ok(Imported::Unchanged),
        Ok(_) => return Err(StoreError::Duplicate(format!("article {}", a.id))),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    insert_article(&tx, a).await?;
    exec(
        &tx,
        "SELECT setval(s, $1) FROM (SELECT pg_get_serial_sequence('articles', 'id')::regclass AS s) q
         WHERE $1 > COALESCE(pg_sequence_last_value(s), 0)",
        &[&i64::try_from(a.id).unwrap_or(i64::MAX)],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(Imported::Written)
}

/// Defects by key (byte order) after `after`.
pub async fn list_defects(
    c: &impl GenericClient,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Defect>, StoreError> {
    let found = crate::db::rows(
        c,
        "SELECT body FROM defects WHERE $1::text IS NULL OR key > $1 COLLATE \"C\"
         ORDER BY key COLLATE \"C\" LIMIT $2",
        &[&after.map(enc), &i64::from(limit)],
    )
    .await?;
    found.iter().map(|r| json(r, 0)).collect()
}

/// An article by id.
pub async fn get_article(c: &impl GenericClient, id: u64) -> Result<Article, StoreError> {
    let row = match i64::try_from(id) {
        Ok(id) => opt(c, "SELECT body FROM articles WHERE id = $1", &[&id]).await?,
        Err(_) => None,
    };
    let row = row.ok_or_else(|| StoreError::NotFound(format!("article {id}")))?;
    json(&row, 0)
}

/// Adds a defect (staff-only search); `Duplicate` when the key is taken.
pub async fn add_defect(
    client: &mut deadpool_postgres::Client,
    d: &Defect,
) -> Result<Defect, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    let row = opt(
        &tx,
        "INSERT INTO defects (key, body) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING id",
        &[&enc(&d.key), &jsonb(d)?],
    )
    .await?
    .ok_or_else(|| StoreError::Duplicate(format!("defect {}", d.key)))?;
    let id: i64 = get(&row, 0)?;
    exec(
        &tx,
        "INSERT INTO search_internal (kind, doc, seq, tsv) VALUES ('defect', $1, 0, $2::text::tsvector)",
        &[
            &id,
            &tsvector(&[
                (&d.key, Weight::Body),
                (&d.title, Weight::Title),
                (&d.body, Weight::Body),
            ]),
        ],
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(d.clone())
}

/// A defect by key.
pub async fn get_defect(c: &impl GenericClient, key: &str) -> Result<Defect, StoreError> {
    let row = opt(c, "SELECT body FROM defects WHERE key = $1", &[&enc(key)])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("defect {key}")))?;
    json(&row, 0)
}
