//! Knowledge: articles, defects, and search.

use casework_core::model::{NewArticle, RefKind};

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::Ctx;

/// `casework article add` and `article show`.
pub(crate) async fn article(cx: &Ctx<'_>, cmd: ArticleCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    match cmd {
        ArticleCmd::Add { title, body, url } => {
            let who = cx.who().await?;
            let a = svc
                .add_article(&who, NewArticle { title, body, url })
                .await?;
            if json {
                print_json(&a)?;
            } else {
                outln!("Article {} added: {}", a.id, a.title);
            }
            Ok(0)
        }
        ArticleCmd::Show { id } => {
            let who = cx.who().await?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| Failure::usage(format!("invalid article id {id:?}")))?;
            let a = svc.article(&who, id).await?;
            if json {
                print_json(&a)?;
            } else {
                outln!(
                    "Article {}: {}\n{}\n\n{}",
                    a.id,
                    a.title,
                    a.url.as_deref().unwrap_or(""),
                    a.body
                );
            }
            Ok(0)
        }
    }
}

/// `casework defect add` and `defect show`.
pub(crate) async fn defect(cx: &Ctx<'_>, cmd: DefectCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    match cmd {
        DefectCmd::Add {
            key,
            title,
            body,
            state,
        } => {
            let who = cx.who().await?;
            let d = svc.add_defect(&who, &key, &title, &body, &state).await?;
            if json {
                print_json(&d)?;
            } else {
                outln!("Defect {} added: {}", d.key, d.title);
            }
            Ok(0)
        }
        DefectCmd::Show { key } => {
            let who = cx.who().await?;
            let d = svc.defect(&who, &key).await?;
            if json {
                print_json(&d)?;
            } else {
                outln!("Defect {} ({}): {}\n\n{}", d.key, d.state, d.title, d.body);
            }
            Ok(0)
        }
    }
}

/// `casework search`.
pub(crate) async fn search(cx: &Ctx<'_>, cmd: SearchArgs) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let SearchArgs { text, kind, limit } = cmd;
    let who = cx.who().await?;
    let kind = kind.map(|k| match k {
        KindArg::Case => RefKind::Case,
        KindArg::Article => RefKind::Article,
        KindArg::Defect => RefKind::Defect,
    });
    let hits = svc.search(&who, &text, kind, limit).await?;
    if json {
        print_json(&hits)?;
    } else {
        out!("{}", output::hits(&hits));
    }
    Ok(0)
}
