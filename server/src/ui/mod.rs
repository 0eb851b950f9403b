//! The web UI edge: server-rendered HTML pages over the same [`Tracker`] operations as gRPC
//! and REST (no logic of its own over the store), a small embedded script for charts, and
//! a columnar JSON endpoint that feeds them with sampled histories.
//!
//! Pages and the permission each needs (checked by the Tracker against the request's
//! caller, as on every edge):
//!
//! | route | what | permission |
//! |---|---|---|
//! | `GET /` | experiments (routes MLflow's `#/experiments/…` links in the browser) | search (filtered) |
//! | `POST /experiments` | create an experiment | create experiment |
//! | `POST /experiments/{id}/rename`, `…/delete`, `…/restore` | change an experiment | MANAGE on it (rename: EDIT) |
//! | `GET /experiments/{id}` | runs table | READ on the experiment |
//! | `GET /experiments/{id}/columns` | the column picker (every key of its runs) | READ |
//! | `GET /experiments/{id}/models` | logged models of the experiment | READ |
//! | `GET /runs/{id}` | run page | READ on the run's experiment |
//! | `POST /runs/{id}/tags`, `POST /runs/{id}/tags/delete` | set or delete a tag (also the description) | EDIT |
//! | `GET /runs/{id}/artifact?path=` | download a file (attachment, never rendered) | READ |
//! | `GET /runs/{id}/image?path=` | a raster image for the preview (PNG, JPEG, GIF, WebP only) | READ |
//! | `GET /compare?runs=…` | runs side by side | READ on each run |
//! | `GET /models`, `GET /models/{name}` | registered models and versions | search (filtered); READ on the model |
//! | `GET /ui-api/series` | sampled history columns for charts | search (per run) |
//! | `GET /static/{file}` | embedded assets | none (open) |
//! | `GET /login`, `POST /login` | the login page and form (with `--auth`) | none (open) |
//! | `POST /logout` | end the session | none |
//!
//! Security: every user-supplied string goes through maud's escaping; pages carry a
//! Content-Security-Policy without inline script or style ([`security_headers`]); artifact
//! files are served as attachments with `nosniff`, and only raster images inline; forms that
//! change something are POSTs accepted only from this origin ([`forms::same_origin`]).

mod artifacts;
mod assets;
mod charts;
mod compare;
mod experiments;
mod format;
mod forms;
mod layout;
mod login;
mod models;
mod run;
mod runs;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::TrackingError;
use crate::tracker::Tracker;

/// The Content-Security-Policy of every UI response: scripts and styles only from this
/// origin's files (no inline script, no inline style), no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The UI's routes (see the module docs for each one's permission).
pub fn router(tracker: Tracker) -> Router {
    Router::new()
        .route("/", get(experiments::list))
        .route("/experiments", post(experiments::create))
        .route("/experiments/{id}", get(runs::table))
        .route("/experiments/{id}/rename", post(experiments::rename))
        .route("/experiments/{id}/delete", post(experiments::delete))
        .route("/experiments/{id}/restore", post(experiments::restore))
        .route("/experiments/{id}/columns", get(runs::columns))
        .route("/experiments/{id}/models", get(models::logged))
        .route("/runs/{id}", get(run::show))
        .route("/runs/{id}/tags", post(run::set_tag))
        .route("/runs/{id}/tags/delete", post(run::delete_tag))
        .route("/runs/{id}/artifact", get(artifacts::download))
        .route("/runs/{id}/image", get(artifacts::image))
        .route("/compare", get(compare::show))
        .route("/models", get(models::registered))
        .route("/models/{name}", get(models::registered_model))
        .route("/ui-api/series", get(charts::series))
        .route("/static/{file}", get(assets::serve))
        .route("/login", get(login::page).post(login::login))
        .route("/logout", post(login::logout))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(tracker)
}

/// Adds the UI's security headers to every response that does not set its own.
pub async fn security_headers(request: Request, next: Next) -> Response {
    // Pages show "Log out" only where there is a login (the identity layer puts the
    // authenticator into requests when --auth is on).
    let logins = request
        .extensions()
        .get::<std::sync::Arc<crate::auth::Authenticator>>()
        .is_some();
    let mut response = layout::LOGINS.scope(logins, next.run(request)).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A failed page: MLflow's HTTP status for the error and a page that says what went wrong.
pub(crate) fn error_page(err: &TrackingError) -> Response {
    err.log_if_internal();
    let status =
        StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Error",
    };
    let body = layout::page(
        title,
        &[],
        maud::html! {
            div.error-box role="alert" {
                strong { (title) } ": " (err.to_string())
            }
            p { a href="/" { "Back to the experiments" } }
        },
    );
    (status, body).into_response()
}

/// What a page handler answers: the page, or the error page.
pub(crate) type PageResult = std::result::Result<Html<String>, Response>;

/// Turns a Tracker error into the error page (`?` in page handlers).
pub(crate) fn page_err(err: TrackingError) -> Response {
    error_page(&err)
}

#[cfg(test)]
mod tests;
