//! Knowledge: articles (searchable by everyone) and defects (staff only), each indexed in
//! the same transaction that stores it.

use casework_core::model::{Article, Defect, NewArticle};
use casework_core::ports::StoreError;
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
