//! Knowledge: articles get increasing ids and read back; defects are unique by key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::model::{Defect, NewArticle};
use casework_core::ports::{Knowledge, StoreError};

use super::desk;

pub async fn articles_and_defects_round_trip<S: Knowledge + ?Sized + 'static>(store: Arc<S>) {
    let b = desk(store);
    let a1 = b
        .store
        .add_article(
            NewArticle {
                title: "A".into(),
                body: "a".into(),
                url: None,
            },
            b.now(),
        )
        .await
        .unwrap();
    let a2 = b
        .store
        .add_article(
            NewArticle {
                title: "B".into(),
                body: "b".into(),
                url: Some("https://x.example/b".into()),
            },
            b.now(),
        )
        .await
        .unwrap();
    assert!(a2.id > a1.id, "ids increase");
    assert_eq!(b.store.get_article(a2.id).await.unwrap(), a2);

    let d = Defect {
        key: "BUG-1".into(),
        title: "t".into(),
        body: "b".into(),
        state: "open".into(),
        created_at: b.now(),
    };
    assert_eq!(b.store.add_defect(d.clone()).await.unwrap(), d);
    assert!(matches!(
        b.store.add_defect(d.clone()).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(b.store.get_defect("BUG-1".into()).await.unwrap(), d);
    assert!(matches!(
        b.store.get_article(a2.id + 1000).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        b.store.get_defect("BUG-0".into()).await,
        Err(StoreError::NotFound(_))
    ));
}
