//! `/healthz`: the server answers, and says whether its background workers (email
//! delivery) run.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::{AppState, openapi};

/// What `/healthz` reports beyond "the server answers": each background worker the
/// composition root runs (the email delivery worker) says whether it is running. A worker
/// that is not answers `/healthz` with 503 until it runs again, so a monitor sees a server
/// that answers requests but no longer sends mail.
#[derive(Debug, Default)]
pub struct Health {
    problems: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Health {
    /// Records that `worker` runs (it completed a round).
    pub fn running(&self, worker: &str) {
        self.lock().remove(worker);
    }

    /// Records that `worker` is not running, with a reason fit for anyone to read (the
    /// details belong in the log: `/healthz` needs no token).
    pub fn down(&self, worker: &str, reason: impl Into<String>) {
        self.lock().insert(worker.to_string(), reason.into());
    }

    /// Every worker that is not running, with its reason.
    pub fn problems(&self) -> std::collections::BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.problems.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    summary = "Whether the server is up",
    security(()),
    responses(
        (status = 200, description = "Up, and every background worker runs", body = openapi::Health),
        (status = 503, description = "Up, but a background worker (email delivery) is not running", body = openapi::Health)
    )
)]
pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    let problems = s.health.problems();
    if problems.is_empty() {
        let ok = openapi::Health {
            status: "ok",
            problems,
        };
        return Json(ok).into_response();
    }
    let degraded = openapi::Health {
        status: "degraded",
        problems,
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(degraded)).into_response()
}
