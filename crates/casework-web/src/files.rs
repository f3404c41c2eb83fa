//! Files on the pages: a form's files posted through the service's door
//! (`CaseService::attach`, which decides who may attach what), and downloads through
//! `CaseService::attachment` with the headers core gives every download (never shown as a
//! page). The desk and the portal differ only in who may come in and where links point.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use casework_core::ServiceError;
use casework_core::attachment::download_headers;
use casework_core::ids::CaseNumber;
use casework_core::model::Visibility;
use casework_core::service::FilePost;

use crate::page::{
    Customer, Forms, Staff, Submitted, case_number, no_such_case, service_error_page,
};
use crate::{Visitor, WebState};

/// What became of a form's files.
pub enum Filed {
    /// Kept with their post.
    Done,
    /// Refused: the form as sent with the reason by its field, and the status.
    Refused(Forms, StatusCode),
    /// The case is not the visitor's to see (shown as a page of its own).
    NotFound(ServiceError),
}

/// Posts a form's files with the text of its `note` field as one post of `visibility`, on
/// case `n`. Too large a form is refused on field `files` without asking the service, as
/// its files were not all read.
pub async fn attach(
    state: &WebState,
    v: &Visitor,
    n: CaseNumber,
    sent: Submitted,
    form: &str,
    note: &str,
    visibility: Visibility,
) -> Filed {
    let mut forms = Forms::sent(form, &sent.form);
    if sent.too_large {
        let most = state.service.config().attachments.max_message_bytes;
        forms.field(
            "files",
            format!(
                "The files are larger than the {} a post may carry. Nothing was added: \
                 choose fewer or smaller files.",
                casework_core::attachment::size_label(most)
            ),
        );
        return Filed::Refused(forms, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let post = FilePost {
        note: sent.form.opt(note),
        visibility,
        files: sent.files,
    };
    match state
        .service
        .attach(&v.actor, n, sent.form.version(), post)
        .await
    {
        Ok(_) => Filed::Done,
        Err(e @ ServiceError::NotFound(_)) => Filed::NotFound(e),
        Err(e) => {
            let status = forms.refuse(&e, &["files", note, "visibility"]);
            Filed::Refused(forms, status)
        }
    }
}

/// What a file input says of the limit: the workflow file's `[attachments]`.
pub fn upload_hint(state: &WebState) -> String {
    let most = state.service.config().attachments.max_message_bytes;
    format!(
        "Up to {} together; pick several at once if you like.",
        casework_core::attachment::size_label(most)
    )
}

/// `GET /cases/{n}/files/{id}`: a file, for staff.
pub async fn desk_download(
    State(state): State<WebState>,
    Staff(v): Staff,
    Path((raw, id)): Path<(String, String)>,
) -> Response {
    download(&state, &v, &raw, &id, ("/cases", "All cases")).await
}

/// `GET /portal/cases/{n}/files/{id}`: a file the customer may see on their own case.
pub async fn portal_download(
    State(state): State<WebState>,
    Customer(v): Customer,
    Path((raw, id)): Path<(String, String)>,
) -> Response {
    download(&state, &v, &raw, &id, ("/portal", "My cases")).await
}

/// The file's bytes with core's download headers, or the page saying it is not there
/// (the same for a file the visitor may not see).
async fn download(
    state: &WebState,
    v: &Visitor,
    raw: &str,
    id: &str,
    back: (&str, &str),
) -> Response {
    let Some(n) = case_number(raw) else {
        return no_such_case(v, back);
    };
    let file = match state.service.attachment(&v.actor, n, id).await {
        Ok(file) => file,
        Err(e) => return service_error_page(Some(v), &e),
    };
    let headers = download_headers(&file.info);
    let mut res = Response::new(Body::from(file.bytes));
    for (name, value) in headers {
        let Ok(value) = HeaderValue::from_str(&value) else {
            // every value is ASCII by construction; a file never goes out without them all
            let e = ServiceError::Internal(format!("download header {name}: {value:?}"));
            return service_error_page(Some(v), &e);
        };
        res.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
    res
}
