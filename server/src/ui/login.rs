//! The login page of a server with `--auth` (open to everyone), and logout.
//!
//! - `GET /login?next=/path`: the form (user name, password).
//! - `POST /login` (`username`, `password`, `next`): verified like HTTP Basic (argon2,
//!   throttled alike); on success a session cookie (`trackd_session`: `HttpOnly`,
//!   `SameSite=Strict`, `Secure` over TLS) and a redirect to `next` (a path of this site
//!   only); on failure the form again with the reason, 401.
//! - `POST /logout`: ends the session, clears the cookie, back to the login page.
//!
//! Without `--auth` there is nothing to log into: both redirect to `/`. Forms are accepted
//! only from this origin's pages (`forms::same_origin`).

use std::sync::Arc;

use axum::extract::{Extension, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::auth::sessions::{COOKIE, TTL};
use crate::auth::Authenticator;
use crate::identity::PeerAddr;

use super::forms::Form;
use super::layout;

/// `?next=` of the login page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Next {
    next: String,
}

/// A redirect target that stays on this site: a path, not `//host` or a URL.
fn local(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

fn form(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        section.card.login {
            h1 { "Log in" }
            @if let Some(error) = error {
                p.error-box role="alert" { (error) }
            }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(local(next));
                p { label { "User name " input type="text" name="username" autocomplete="username" required autofocus; } }
                p { label { "Password " input type="password" name="password" autocomplete="current-password" required; } }
                p { button type="submit" { "Log in" } }
            }
        }
    };
    (status, layout::page("Log in", &[], body)).into_response()
}

/// `GET /login`.
pub async fn page(auth: Option<Extension<Arc<Authenticator>>>, Query(q): Query<Next>) -> Response {
    if auth.is_none() {
        return Redirect::to("/").into_response();
    }
    form(&q.next, None, StatusCode::OK)
}

/// `POST /login`.
pub async fn login(
    auth: Option<Extension<Arc<Authenticator>>>,
    peer: Option<Extension<PeerAddr>>,
    fields: Form,
) -> Response {
    let Some(Extension(auth)) = auth else {
        return Redirect::to("/").into_response();
    };
    let next = local(fields.get("next")).to_owned();
    let addr = peer.as_ref().map(|p| p.addr.ip());
    match auth
        .login(fields.get("username"), fields.get("password"), addr)
        .await
    {
        Ok(session) => {
            let secure = if peer.is_some_and(|p| p.tls) {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                TTL.as_secs()
            );
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => form(&next, Some(&e.to_string()), StatusCode::UNAUTHORIZED),
    }
}

/// `POST /logout`.
pub async fn logout(
    auth: Option<Extension<Arc<Authenticator>>>,
    headers: axum::http::HeaderMap,
    _same_origin: Form,
) -> Response {
    if let Some(Extension(auth)) = auth {
        if let Some(session) = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::sessions::from_cookie_header)
        {
            auth.logout(session);
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("trackd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
