//! Files on a case: a post with files (`multipart/form-data`, as helpdesk clients send
//! them), the list of the files the caller may see, and a download that is never shown as
//! a page. Who may attach, see or fetch what is the service's (`CaseService::attach`,
//! `attachments`, `attachment`); this module reads the form and shapes the answers.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casework_core::attachment::{Upload, download_headers};
use casework_core::config::AttachmentPolicy;
use casework_core::model::Visibility;
use casework_core::ports::AttachmentInfo;
use casework_core::service::FilePost;
use serde::Serialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::{CasePath, IfMatch, if_match, number};
use crate::{ApiError, AppState, openapi};

/// The most bytes an upload's request may hold: the workflow file's
/// `[attachments] max_message_bytes` for the files, plus what any other request may carry
/// ([`crate::MAX_BODY`]) for the text, the visibility and the parts' headers.
pub(crate) fn upload_limit(policy: &AttachmentPolicy) -> usize {
    usize::try_from(policy.max_message_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(crate::MAX_BODY)
}

/// The form of `POST /api/v1/cases/{n}/attachments`, as the document states it.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the form; the handler reads it part by part
pub(crate) struct UploadForm {
    /// The files: one `files` part each, with its `filename` and `Content-Type` (the type is
    /// checked against the bytes). At most {MAX_ATTACHMENTS} files, within
    /// `[attachments] max_file_bytes` each and `max_message_bytes` together.
    files: Vec<FilePart>,
    /// The post's text; without it the post says which files it carries.
    text: Option<String>,
    /// `customer` (the default) or `internal` (staff only: a customer's files are always
    /// customer-visible).
    visibility: Option<Visibility>,
}

/// One file's bytes in the form.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes a part of the form
pub(crate) struct FilePart(Vec<u8>);

/// What a post with files made.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttachedOut<'a> {
    /// The post, as a timeline entry.
    entry: openapi::EventItem<'a>,
    /// The files as kept, in the order sent.
    files: &'a [AttachmentInfo],
}

/// A file of a case in the path.
#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path; the handler takes it as strings
pub(crate) struct FilePath {
    /// Case number; leading zeros accepted.
    n: String,
    /// The file's id, from the list or the upload's answer.
    id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{n}/attachments",
    tag = "attachments",
    summary = "Add a post with files",
    description = "A `multipart/form-data` form, as helpdesk clients and browsers send files: one `files` part per file (several in one post), an optional `text` and an optional `visibility` (`customer`, the default, or `internal`, for staff). The post and its files are written together or not at all. A customer attaches only on their own case, and their files are customer-visible. Limits: the workflow file's `[attachments]` (`max_message_bytes` for all the files, default 25 MiB; `max_file_bytes` each) and {MAX_ATTACHMENTS} files: over them the answer is 413 (the request is larger than the limit) or 422 (a file or the files over their setting), naming the field `files`.",
    params(CasePath, IfMatch),
    request_body(content = inline(UploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The post and its files", body = AttachedOut, headers(("ETag" = String, description = "The case's version, quoted"))),
        openapi::Problems
    )
)]
pub(crate) async fn upload(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
    h: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let number = number(&n)?;
    let expected = if_match(&h)?;
    let policy = &s.service.config().attachments;
    let mut form = form.map_err(|r| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
            format!(
                "{}: send multipart/form-data with `files` parts",
                r.body_text()
            ),
        )
    })?;
    let mut post = FilePost {
        note: None,
        visibility: Visibility::Customer,
        files: Vec::new(),
    };
    while let Some(field) = form.next_field().await.map_err(|e| form_error(e, policy))? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "files" => {
                let file_name = field.file_name().map(str::to_string);
                let content_type = field
                    .content_type()
                    .unwrap_or(casework_core::attachment::OPAQUE)
                    .to_string();
                let bytes = field.bytes().await.map_err(|e| form_error(e, policy))?;
                post.files.push(Upload {
                    file_name,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            "text" => {
                let text = field.text().await.map_err(|e| form_error(e, policy))?;
                post.note = Some(text);
            }
            "visibility" => {
                let text = field.text().await.map_err(|e| form_error(e, policy))?;
                post.visibility = serde_json::from_value(json!(text.trim())).map_err(|_| {
                    ApiError::invalid("visibility", "visibility is `customer` or `internal`")
                })?;
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    format!(
                        "unknown form field {other:?}: the form has `files`, `text` and \
                         `visibility`"
                    ),
                ));
            }
        }
    }
    let done = s.service.attach(&a, number, expected, post).await?;
    let Some(entry) = done.outcome.events.first() else {
        return Err(ApiError::internal("a post with files made no event"));
    };
    let body = AttachedOut {
        entry: openapi::EventItem {
            id: entry.seq,
            event: entry,
        },
        files: &done.files,
    };
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", done.outcome.case.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// A form that could not be read: too large (413, naming `files` and the setting), or
/// malformed (400).
fn form_error(e: MultipartError, policy: &AttachmentPolicy) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
            format!(
                "the upload is over {} bytes: the files may hold {} bytes together \
                 ([attachments] max_message_bytes)",
                upload_limit(policy),
                policy.max_message_bytes
            ),
        )
        .with("field", json!("files"));
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed request body",
        format!("the multipart form cannot be read: {}", e.body_text()),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/attachments",
    tag = "attachments",
    summary = "The case's files the caller may see, without their bytes",
    description = "In timeline order. A customer gets the files of customer-visible entries of their own case only.",
    params(CasePath),
    responses((status = 200, description = "The files", body = Vec<AttachmentInfo>), openapi::Problems)
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(n): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(s.service.attachments(&a, number(&n)?).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{n}/attachments/{id}",
    tag = "attachments",
    summary = "Download a file",
    description = "Always as a download (`Content-Disposition: attachment`, with an ASCII `filename` and the real name in `filename*`), with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox; default-src 'none'`. The type is the one the bytes show; HTML, SVG, XML and scripts (shown or declared) are sent as `application/octet-stream`, never as a page. The `ETag` is the file's SHA-256: `If-None-Match` with it answers 304. A file of an entry the caller may not see is not found, as the case is.",
    params(FilePath),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = FilePart, headers(
            ("Content-Disposition" = String, description = "attachment, with the file's name"),
            ("ETag" = String, description = "The file's SHA-256, quoted")
        )),
        (status = 304, description = "The file is the one the client holds (If-None-Match)"),
        openapi::Problems
    )
)]
pub(crate) async fn download(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((n, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let file = s.service.attachment(&a, number(&n)?, &id).await?;
    let etag = format!("\"{}\"", file.info.sha256);
    let fresh = h
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(HttpBody::from(file.bytes))
    };
    for (name, value) in download_headers(&file.info) {
        // every value is ASCII by construction; a file is never sent without all of them
        let v = HeaderValue::from_str(&value)
            .map_err(|_| ApiError::internal(&format!("download header {name}: {value:?}")))?;
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
    Ok(r)
}
