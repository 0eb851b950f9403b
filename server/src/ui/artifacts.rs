//! The artifact browser of the run page, its previews and downloads.
//!
//! Previews read at most [`PREVIEW_BYTES`] of a file (text, JSON, YAML, `MLmodel`, the
//! first [`CSV_PREVIEW_ROWS`] rows of a CSV) and show it as escaped text; images are shown
//! only for raster types (PNG, JPEG, GIF, WebP) — never SVG or HTML, which could carry
//! script. Downloads stream the file as an attachment with `nosniff`, so nothing is loaded
//! into the page first and no artifact is ever rendered by the browser as a page.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{format, page_err};
use crate::artifacts::ArtifactFile;
use crate::domain::{Caller, Run};
use crate::tracker::Tracker;

/// Most bytes of a file a preview reads.
pub const PREVIEW_BYTES: u64 = 1 << 20;
/// Most entries of one directory listed on the page.
pub const MAX_LISTED: usize = 1000;
/// Most rows of a CSV preview.
pub const CSV_PREVIEW_ROWS: usize = 100;

/// How a file is previewed, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    /// Shown as text.
    Text,
    /// Pretty-printed when whole and valid, else as text.
    Json,
    /// The first rows as a table.
    Csv(u8),
    /// An `<img>` of a raster image.
    Image(&'static str),
    /// No preview: download only.
    None,
}

/// The preview of a file named `path`.
pub fn preview_kind(path: &str) -> PreviewKind {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "MLmodel" || name == "requirements.txt" || name == "conda.yaml" {
        return PreviewKind::Text;
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => PreviewKind::Json,
        "csv" => PreviewKind::Csv(b','),
        "tsv" => PreviewKind::Csv(b'\t'),
        "png" => PreviewKind::Image("image/png"),
        "jpg" | "jpeg" => PreviewKind::Image("image/jpeg"),
        "gif" => PreviewKind::Image("image/gif"),
        "webp" => PreviewKind::Image("image/webp"),
        "txt" | "log" | "md" | "yaml" | "yml" | "py" | "toml" | "ini" | "cfg" | "sh" | "rs"
        | "jsonl" | "r" | "sql" | "xml" | "conf" => PreviewKind::Text,
        _ => PreviewKind::None,
    }
}

/// The browser: the listing of the directory being looked at (or the selected file's
/// directory) and the selected file's preview. Failures show inside the section.
pub async fn browser(t: &Tracker, c: &Caller, run: &Run, selected: &str) -> Markup {
    let id = run.info.run_id.to_string();
    let listing = match t.list_artifacts(c, &id, selected, false).await {
        Ok((_, files)) => files,
        Err(e) => return html! { div.error-box role="alert" { (e.to_string()) } },
    };
    let selected_file = listing
        .first()
        .filter(|f| listing.len() == 1 && !f.is_dir && f.path == selected && !selected.is_empty())
        .cloned();
    let (dir, entries) = match &selected_file {
        Some(file) => {
            let parent = file.path.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
            match t.list_artifacts(c, &id, &parent, false).await {
                Ok((_, files)) => (parent, files),
                Err(e) => return html! { div.error-box role="alert" { (e.to_string()) } },
            }
        }
        None => (selected.to_owned(), listing),
    };
    let here = |path: &str| -> String {
        format!(
            "/runs/{id}?{}#artifacts",
            format::query([("artifact", path)])
        )
    };
    let preview = match &selected_file {
        Some(file) => preview(t, c, &id, file).await,
        None => html! { p.muted { "Select a file to preview it." } },
    };
    let mut crumbs = Vec::new();
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        crumbs.push((part.to_owned(), prefix.clone()));
    }
    html! {
        div.artifacts {
            div.tree {
                nav.path {
                    a href=(here("")) { "artifacts" }
                    @for (part, prefix) in &crumbs {
                        " / " a href=(here(prefix)) { (part) }
                    }
                }
                @if entries.is_empty() { p.muted { "No artifacts." } }
                @if entries.len() > MAX_LISTED {
                    p.muted.note { "Showing the first " (MAX_LISTED) " of " (entries.len()) " entries; use `trackd artifacts list` for all of them." }
                }
                ul.files {
                    @for f in entries.iter().take(MAX_LISTED) {
                        @let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                        li.selected[selected_file.as_ref().is_some_and(|s| s.path == f.path)] {
                            @if f.is_dir { a.dir href=(here(&f.path)) { (name) "/" } } @else { a href=(here(&f.path)) { (name) } }
                            @if let Some(size) = f.size { span.muted { " " (bytes(size)) } }
                        }
                    }
                }
            }
            div.preview { (preview) }
        }
    }
}

async fn preview(t: &Tracker, c: &Caller, run_id: &str, file: &ArtifactFile) -> Markup {
    let query = format::query([("path", file.path.as_str())]);
    let download = format!("/runs/{run_id}/artifact?{query}");
    let head = html! {
        div.preview-head {
            strong { (file.path) }
            @if let Some(size) = file.size { " " span.muted { (bytes(size)) } }
            " " a.button href=(download) download { "Download" }
        }
    };
    let kind = preview_kind(&file.path);
    if let PreviewKind::Image(_) = kind {
        return html! { (head) img.artifact-image src=(format!("/runs/{run_id}/image?{query}")) alt=(file.path); };
    }
    if kind == PreviewKind::None {
        return html! { (head) p.muted { "No preview for this type of file; download it instead." } };
    }
    let (size, bytes_read) = match t.artifact_head(c, run_id, &file.path, PREVIEW_BYTES).await {
        Ok(h) => h,
        Err(e) => return html! { (head) div.error-box role="alert" { (e.to_string()) } },
    };
    if bytes_read.contains(&0) {
        return html! { (head) p.muted { "This file looks binary; download it instead." } };
    }
    let truncated = (bytes_read.len() as u64) < size;
    let text = String::from_utf8_lossy(&bytes_read);
    let note = html! {
        @if truncated { p.muted.note { "Showing the first " (bytes(bytes_read.len() as u64)) " of " (bytes(size)) "." } }
    };
    let body = match kind {
        PreviewKind::Json if !truncated => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => {
                html! { pre.text { (serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string())) } }
            }
            Err(_) => html! { pre.text { (text) } },
        },
        PreviewKind::Csv(delimiter) => csv_table(&bytes_read, delimiter),
        _ => html! { pre.text { (text) } },
    };
    html! { (head) (note) (body) }
}

/// The first rows of a CSV as a table.
fn csv_table(bytes_read: &[u8], delimiter: u8) -> Markup {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes_read);
    let rows: Vec<Vec<String>> = reader
        .records()
        .take(CSV_PREVIEW_ROWS + 1)
        .filter_map(|r| r.ok())
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect();
    let Some((header_row, rest)) = rows.split_first() else {
        return html! { p.muted { "Empty file." } };
    };
    html! {
        p.muted.note { "The first " (rest.len()) " rows." }
        div.table-wrap { table.grid.csv {
            thead { tr { @for h in header_row { th { (h) } } } }
            tbody { @for r in rest { tr { @for v in r { td { (v) } } } } }
        } }
    }
}

fn bytes(n: u64) -> String {
    match n {
        0..=1023 => format!("{n} B"),
        1024..=1_048_575 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// `?path=` of a file route.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    path: String,
}

/// `GET /runs/{id}/artifact?path=`: the file as a streamed attachment.
pub async fn download(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let read = match t.open_artifact(&c, &id, &q.path).await {
        Ok(r) => r,
        Err(e) => return page_err(e),
    };
    let name = q.path.rsplit('/').next().unwrap_or("artifact");
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        name.replace(
            |c: char| !c.is_ascii_graphic() || c == '"' || c == '\\',
            "_"
        ),
        format::segment(name)
    );
    let mut response = Body::from_stream(read.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(read.size));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

/// `GET /runs/{id}/image?path=`: a raster image for the preview, with its type; any other
/// file is refused (an SVG or HTML file is never served inline).
pub async fn image(
    State(t): State<Tracker>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let PreviewKind::Image(content_type) = preview_kind(&q.path) else {
        return page_err(crate::error::TrackingError::invalid(
            "Only PNG, JPEG, GIF and WebP images are shown inline; download other files.",
        ));
    };
    let read = match t.open_artifact(&c, &id, &q.path).await {
        Ok(r) => r,
        Err(e) => return page_err(e),
    };
    let mut response = Body::from_stream(read.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(read.size));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_chosen_by_name_and_never_render_markup() {
        assert_eq!(preview_kind("model/MLmodel"), PreviewKind::Text);
        assert_eq!(preview_kind("a/b.JSON"), PreviewKind::Json);
        assert_eq!(preview_kind("data.csv"), PreviewKind::Csv(b','));
        assert_eq!(preview_kind("plot.png"), PreviewKind::Image("image/png"));
        assert_eq!(preview_kind("evil.svg"), PreviewKind::None);
        assert_eq!(preview_kind("evil.html"), PreviewKind::None);
        assert_eq!(preview_kind("weights.bin"), PreviewKind::None);
    }

    #[test]
    fn csv_previews_stop_at_the_row_limit() {
        let mut data = String::from("a,b\n");
        for i in 0..500 {
            data.push_str(&format!("{i},\"x,{i}\"\n"));
        }
        let html = csv_table(data.as_bytes(), b',').into_string();
        assert!(html.contains("The first 100 rows."));
        assert!(html.contains("<td>x,99</td>"));
        assert!(!html.contains("<td>x,100</td>"));
    }
}
