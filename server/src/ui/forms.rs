//! HTML forms that change something: accepted only from this origin (a page elsewhere
//! cannot make a visitor's browser delete an experiment), bounded in size, and answered
//! with a redirect back to the page (so a reload does not post twice).

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::TrackingError;

/// Largest form body, in bytes (a description tag is at most 8,000 characters).
pub const MAX_FORM_BODY: usize = 64 << 10;

/// Whether a request comes from a page of this origin: the browser's `Sec-Fetch-Site`
/// says so, or, without it, `Origin` names the host the request was sent to. A request with
/// neither is not from a browser form and is refused too.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        }
        _ => false,
    }
}

/// A submitted form's fields, or the response refusing it.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Reads a form body: same origin, `application/x-www-form-urlencoded`, at most
    /// [`MAX_FORM_BODY`] bytes.
    pub async fn read(headers: &HeaderMap, body: Body) -> Result<Form, Response> {
        if !same_origin(headers) {
            return Err((
                StatusCode::FORBIDDEN,
                "Forms are accepted only from this server's own pages.",
            )
                .into_response());
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(super::error_page(&TrackingError::invalid(
                "A form must be sent as application/x-www-form-urlencoded.",
            )));
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BODY)
            .await
            .map_err(|_| {
                super::error_page(&TrackingError::TooLarge(format!(
                    "A form is at most {MAX_FORM_BODY} bytes."
                )))
            })?;
        Ok(Form(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// A form as a handler argument: the request is refused (with [`Form::read`]'s answer)
/// before the handler runs when it is not a same-origin form.
impl<S: Send + Sync> axum::extract::FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, _state: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        Form::read(&parts.headers, body).await
    }
}

/// Back to `to` after a form; a failure travels along as a message the page shows.
pub fn back(to: &str, outcome: crate::error::Result<()>) -> Response {
    match outcome {
        Ok(()) => Redirect::to(to).into_response(),
        Err(e) => {
            e.log_if_internal();
            let sep = if to.contains('?') { '&' } else { '?' };
            let message = super::format::query([("error", e.to_string().as_str())]);
            Redirect::to(&format!("{to}{sep}{message}")).into_response()
        }
    }
}
