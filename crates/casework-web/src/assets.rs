//! The static files the pages use, compiled into the binary: the stylesheet, htmx and its
//! licence. Each is served at a URL carrying a hash of its content, so browsers may keep it
//! for a year (`immutable`) and a new build's file is a new URL.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    /// Name before the hash (`casework`).
    stem: &'static str,
    /// Extension (`css`).
    ext: &'static str,
    /// Content type.
    content_type: &'static str,
    /// The bytes.
    body: &'static [u8],
    /// The URL path, with the content hash: `/assets/casework-0123abcd.css`.
    pub url: String,
}

fn asset(stem: &'static str, ext: &'static str, ct: &'static str, body: &'static [u8]) -> Asset {
    let hash = casework_core::model::sha256_hex(body);
    Asset {
        stem,
        ext,
        content_type: ct,
        body,
        url: format!("/assets/{stem}-{}.{ext}", &hash[..12]),
    }
}

/// The stylesheet.
pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "casework",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/casework.css"),
    )
});

/// htmx 2.0.11 (<https://htmx.org>, Zero-Clause BSD; see [`HTMX_LICENSE`]).
pub static HTMX: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "htmx-2.0.11",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/htmx-2.0.11.min.js"),
    )
});

/// htmx's licence, served beside it.
pub static HTMX_LICENSE: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "htmx-LICENSE",
        "txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/htmx-LICENSE.txt"),
    )
});

/// Every embedded file.
pub fn all() -> [&'static Asset; 3] {
    [&CSS, &HTMX, &HTMX_LICENSE]
}

/// `GET /assets/{file}`: the file whose hashed name this is, cached for a year; anything
/// else (an old hash included) is 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    let found = all().into_iter().find(|a| {
        a.url
            .strip_prefix("/assets/")
            .is_some_and(|name| name == file)
            && file.starts_with(a.stem)
            && file.ends_with(a.ext)
    });
    match found {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
