//! The page shell every UI page shares: head (stylesheet, script), top bar, breadcrumbs.

use axum::response::Html;
use maud::{html, Markup, DOCTYPE};

use super::assets;

tokio::task_local! {
    /// Whether the server has logins (`--auth`), for the page being rendered (set by
    /// `super::security_headers` around every UI handler).
    pub static LOGINS: bool;
}

/// A whole page: `title`, breadcrumbs as (label, href) pairs, and the body.
pub fn page(title: &str, crumbs: &[(String, String)], body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · trackd" }
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(assets::url("uPlot.min.css"));
                link rel="stylesheet" href=(assets::url("app.css"));
                script src=(assets::url("uPlot.iife.min.js")) defer {}
                script src=(assets::url("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "trackd" }
                    nav {
                        a href="/" { "Experiments" }
                        a href="/models" { "Models" }
                    }
                    @if LOGINS.try_with(|on| *on).unwrap_or(false) {
                        form.inline.logout method="post" action="/logout" {
                            button type="submit" { "Log out" }
                        }
                    }
                }
                @if !crumbs.is_empty() {
                    nav.crumbs aria-label="breadcrumbs" {
                        @for (i, (label, href)) in crumbs.iter().enumerate() {
                            @if i > 0 { span.sep { "/" } }
                            a href=(href) { (label) }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A notice at the top of a page (a flash message carried in the URL after a form).
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message.filter(|m| !m.is_empty()) {
            div.error-box role="alert" { (m) }
        }
    }
}
