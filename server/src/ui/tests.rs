//! Route and fragment tests of the UI: the pages and endpoints answered by the same router
//! the server mounts (with the REST API beside it for seeding), over a real store.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::domain::Caller;
use crate::store::{Store, StoreConfig};
use crate::tracker::{NewRun, Tracker};

struct App {
    router: Router,
    tracker: Tracker,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let tracker = Tracker::new(Store::open(StoreConfig::new(dir.path())).unwrap());
        let router = crate::rest::router(tracker.clone())
            .merge(super::router(tracker.clone()))
            .layer(axum::middleware::from_fn_with_state(
                None,
                crate::identity::identify,
            ));
        App {
            router,
            tracker,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// A form posted the way a browser on one of our pages posts it.
    async fn form(&self, uri: &str, body: &str) -> Answer {
        self.send(
            Request::post(uri)
                .header(header::HOST, "localhost:5000")
                .header(header::ORIGIN, "http://localhost:5000")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    async fn rest(&self, path: &str, body: Value) -> Value {
        let a = self
            .send(
                Request::post(format!("/api/2.0/mlflow/{path}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        serde_json::from_str(&a.body).unwrap()
    }

    async fn upload(&self, experiment: &str, run: &str, path: &str, bytes: Vec<u8>) {
        let a = self
            .send(
                Request::put(format!(
                    "/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/{path}"
                ))
                .body(Body::from(bytes))
                .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }

    async fn experiment(&self, name: &str) -> String {
        self.tracker
            .create_experiment(&Caller::InProcess, name, "", vec![])
            .await
            .unwrap()
            .to_string()
    }

    async fn run(&self, experiment: &str, name: &str, tags: Vec<(String, String)>) -> String {
        self.tracker
            .create_run(
                &Caller::InProcess,
                NewRun {
                    experiment_id: experiment.into(),
                    run_name: name.into(),
                    tags,
                    ..NewRun::default()
                },
            )
            .await
            .unwrap()
            .info
            .run_id
            .to_string()
    }

    async fn metrics(&self, run: &str, key: &str, points: impl Iterator<Item = (i64, f64)>) {
        let points: Vec<(i64, f64)> = points.collect();
        for chunk in points.chunks(1000) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|(s, v)| json!({"key": key, "value": v, "timestamp": 1_700_000_000_000i64 + s, "step": s}))
                .collect();
            self.rest("runs/log-batch", json!({"run_id": run, "metrics": metrics}))
                .await;
        }
    }
}

/// Rows of the runs table's body.
fn body_rows(html: &str) -> usize {
    let body = &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()];
    body.matches("<tr").count()
}

fn next_page_href(html: &str) -> Option<String> {
    let at = html.find("id=\"next-page\" href=\"")? + "id=\"next-page\" href=\"".len();
    Some(html[at..at + html[at..].find('"')?].replace("&amp;", "&"))
}

const XSS: &str = "<img src=x onerror=alert(1)>";

#[tokio::test]
async fn every_page_escapes_user_strings_and_carries_the_security_headers() {
    let app = App::new();
    let exp = app.experiment(&format!("exp {XSS}")).await;
    let run = app
        .run(
            &exp,
            XSS,
            vec![("team".into(), "<script>alert(2)</script>".into())],
        )
        .await;
    app.rest(
        "runs/log-batch",
        json!({"run_id": run, "params": [{"key": "p", "value": "\"quoted\" <i>"}],
               "metrics": [{"key": "loss", "value": 1.0, "timestamp": 1, "step": 0}]}),
    )
    .await;
    app.upload(
        &exp,
        &run,
        "x%3Cb%3E.txt",
        b"<script>alert(3)</script>".to_vec(),
    )
    .await;
    let pages = [
        "/".to_string(),
        format!("/experiments/{exp}"),
        format!("/experiments/{exp}/columns"),
        format!("/experiments/{exp}/models"),
        format!("/runs/{run}"),
        format!("/runs/{run}?artifact=x%3Cb%3E.txt"),
        format!("/compare?runs={run}"),
        "/models".to_string(),
    ];
    for uri in pages {
        let a = app.get(&uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        for raw in ["<img src=x", "<script>alert", "<b>", "<i>"] {
            assert!(!a.body.contains(raw), "{uri} contains raw {raw}");
        }
        let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // No inline script: every <script> element loads a file.
        assert_eq!(
            a.body.matches("<script").count(),
            a.body.matches("<script src=\"/static/").count(),
            "{uri}"
        );
        assert!(!a.body.contains(" style=\""), "{uri} has an inline style");
    }
    let run_page = app.get(&format!("/runs/{run}")).await.body;
    assert!(run_page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(run_page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    let preview = app
        .get(&format!("/runs/{run}?artifact=x%3Cb%3E.txt"))
        .await
        .body;
    assert!(
        preview.contains("&lt;script&gt;alert(3)&lt;/script&gt;"),
        "{preview}"
    );
}

#[tokio::test]
async fn the_runs_table_pages_sorts_filters_and_keeps_the_dom_small() {
    let app = App::new();
    let exp = app.experiment("big").await;
    let mut runs = Vec::new();
    for i in 0..250 {
        let run = app.run(&exp, &format!("run-{i:03}"), vec![]).await;
        runs.push(run);
    }
    for (i, run) in runs.iter().enumerate() {
        app.rest(
            "runs/log-batch",
            json!({"run_id": run, "metrics": [{"key": "acc", "value": i as f64, "timestamp": 1, "step": 0}],
                   "params": [{"key": "parity", "value": if i % 2 == 0 { "even" } else { "odd" }}]}),
        )
        .await;
    }
    // Pages of 100, disjoint, in the server's order.
    let first = app
        .get(&format!("/experiments/{exp}?order=metrics.acc+DESC"))
        .await
        .body;
    assert_eq!(body_rows(&first), 100);
    assert!(first.contains("run-249"), "highest accuracy first");
    let next = next_page_href(&first).expect("a next page");
    assert!(next.contains("order=metrics.acc+DESC"), "{next}");
    let second = app.get(&next).await.body;
    assert_eq!(body_rows(&second), 100);
    assert!(second.contains("run-149") && !second.contains("run-150"));
    let third = app.get(&next_page_href(&second).unwrap()).await.body;
    assert_eq!(body_rows(&third), 50);
    assert!(next_page_href(&third).is_none());
    // The header of the sorted column toggles to ascending and shows the direction.
    assert!(first.contains("order=metrics.acc+ASC"));
    // A filter narrows on the server.
    let filtered = app
        .get(&format!(
            "/experiments/{exp}?filter=params.parity+%3D+%27odd%27+AND+metrics.acc+%3E%3D+240"
        ))
        .await
        .body;
    assert_eq!(body_rows(&filtered), 5);
    // A bad filter is shown with its position, not a failed page.
    let bad = app
        .get(&format!("/experiments/{exp}?filter=metrics.acc+%3E"))
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(
        bad.body.contains("Invalid filter at position"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("<mark>"), "the position is marked");
    // Chosen columns only.
    let cols = app
        .get(&format!("/experiments/{exp}?cols=params.parity"))
        .await
        .body;
    assert!(cols.contains(">params.parity<") && !cols.contains(">metrics.acc<"));
    // Page size is bounded.
    let huge = app.get(&format!("/experiments/{exp}?n=100000")).await.body;
    assert_eq!(body_rows(&huge), 250.min(super::runs::MAX_PAGE));
}

#[tokio::test]
async fn the_column_picker_lists_every_key_as_a_fragment_or_a_page() {
    let app = App::new();
    let exp = app.experiment("cols").await;
    let run = app.run(&exp, "r", vec![("team".into(), "a".into())]).await;
    app.rest(
        "runs/log-batch",
        json!({"run_id": run, "params": [{"key": "lr", "value": "0.1"}],
               "metrics": [{"key": "val/loss", "value": 1.0, "timestamp": 1, "step": 0}]}),
    )
    .await;
    let fragment = app
        .send(
            Request::get(format!("/experiments/{exp}/columns?cols=params.lr"))
                .header("x-fragment", "1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .body;
    assert!(!fragment.contains("<html"), "a fragment");
    assert!(fragment.contains("value=\"metrics.val/loss\""));
    assert!(fragment.contains("value=\"params.lr\" checked"));
    assert!(fragment.contains("value=\"tags.team\""));
    let page = app.get(&format!("/experiments/{exp}/columns")).await.body;
    assert!(page.contains("<html"));
}

#[tokio::test]
async fn the_run_page_shows_everything_and_charts_are_placeholders() {
    let app = App::new();
    let exp = app.experiment("e").await;
    let parent = app.run(&exp, "parent", vec![]).await;
    let child = app
        .run(
            &exp,
            "child",
            vec![("mlflow.parentRunId".into(), parent.clone())],
        )
        .await;
    for k in 0..30 {
        app.metrics(&parent, &format!("m{k:02}"), (0..3).map(|s| (s, s as f64)))
            .await;
    }
    app.rest(
        "runs/log-batch",
        json!({"run_id": parent, "params": [{"key": "lr", "value": "0.1"}]}),
    )
    .await;
    let html = app.get(&format!("/runs/{parent}")).await.body;
    assert!(
        html.contains(&format!("href=\"/runs/{child}\"")),
        "child listed"
    );
    assert!(html.contains("Parameters (1)") && html.contains("Metrics (30)"));
    // One empty chart box per metric; the script fills each when it scrolls into view.
    assert_eq!(html.matches("class=\"chart\"").count(), 30);
    assert_eq!(
        html.matches("data-live=\"1\"").count(),
        30,
        "a running run's charts refresh"
    );
    app.rest(
        "runs/update",
        json!({"run_id": parent, "status": "FINISHED", "end_time": 2}),
    )
    .await;
    assert!(!app
        .get(&format!("/runs/{parent}"))
        .await
        .body
        .contains("data-live"));
    let child_html = app.get(&format!("/runs/{child}")).await.body;
    assert!(
        child_html.contains(&format!("href=\"/runs/{parent}\"")),
        "parent linked"
    );
    let missing = app.get("/runs/0123456789abcdef0123456789abcdef").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found"));
}

#[tokio::test]
async fn artifact_previews_are_capped_and_downloads_are_attachments() {
    let app = App::new();
    let exp = app.experiment("a").await;
    let run = app.run(&exp, "r", vec![]).await;
    app.upload(&exp, &run, "cfg.json", br#"{"b":[1,2],"a":"x"}"#.to_vec())
        .await;
    app.upload(&exp, &run, "big.txt", vec![b'x'; 3 << 20]).await;
    app.upload(&exp, &run, "table.csv", b"h1,h2\n1,2\n3,4\n".to_vec())
        .await;
    app.upload(
        &exp,
        &run,
        "evil.html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    app.upload(&exp, &run, "evil.svg", b"<svg onload=alert(1)/>".to_vec())
        .await;
    app.upload(&exp, &run, "dir/nested/MLmodel", b"flavors: {}\n".to_vec())
        .await;

    let json_page = app
        .get(&format!("/runs/{run}?artifact=cfg.json"))
        .await
        .body;
    assert!(
        json_page.contains("  &quot;a&quot;: &quot;x&quot;"),
        "pretty-printed"
    );
    let big = app.get(&format!("/runs/{run}?artifact=big.txt")).await.body;
    assert!(big.contains("Showing the first 1.0 MiB of 3.0 MiB"));
    assert!(
        big.len() < (1 << 20) + 20_000,
        "the page holds at most the cap"
    );
    let csv = app
        .get(&format!("/runs/{run}?artifact=table.csv"))
        .await
        .body;
    assert!(csv.contains("<th>h1</th>") && csv.contains("<td>3</td>"));
    let html = app
        .get(&format!("/runs/{run}?artifact=evil.html"))
        .await
        .body;
    assert!(html.contains("No preview for this type"));
    let nested = app
        .get(&format!("/runs/{run}?artifact=dir/nested"))
        .await
        .body;
    assert!(nested.contains("MLmodel") && nested.contains(">nested</a>"));
    let mlmodel = app
        .get(&format!("/runs/{run}?artifact=dir/nested/MLmodel"))
        .await
        .body;
    assert!(mlmodel.contains("flavors: {}"));

    let download = app
        .get(&format!("/runs/{run}/artifact?path=evil.html"))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(
        download.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(download.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(download.body, "<script>alert(1)</script>");
    let svg = app.get(&format!("/runs/{run}/image?path=evil.svg")).await;
    assert_eq!(
        svg.status,
        StatusCode::BAD_REQUEST,
        "SVG is never served inline"
    );
    for bad in ["../../etc/passwd", "%2e%2e/%2e%2e/x", "/etc/passwd"] {
        let a = app.get(&format!("/runs/{run}/artifact?path={bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        let p = app.get(&format!("/runs/{run}?artifact={bad}")).await;
        assert!(p.body.contains("error-box"), "{bad}");
    }
}

#[tokio::test]
async fn forms_change_things_only_from_this_origin() {
    let app = App::new();
    let exp = app.experiment("f").await;
    let run = app.run(&exp, "r", vec![]).await;
    // A cross-site post is refused and changes nothing.
    let cross = app
        .send(
            Request::post(format!("/runs/{run}/tags"))
                .header(header::HOST, "localhost:5000")
                .header(header::ORIGIN, "http://evil.example")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("key=k&value=v"))
                .unwrap(),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let cross_site = app
        .send(
            Request::post(format!("/experiments/{exp}/delete"))
                .header("sec-fetch-site", "cross-site")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let tags = |a: &App, run: String| {
        let t = a.tracker.clone();
        async move { t.get_run(&Caller::InProcess, &run).await.unwrap().tags }
    };
    assert!(!tags(&app, run.clone()).await.contains_key("k"));

    let set = app
        .form(&format!("/runs/{run}/tags"), "key=k&value=v+1")
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert_eq!(tags(&app, run.clone()).await["k"], "v 1");
    let desc = app
        .form(
            &format!("/runs/{run}/tags"),
            "key=mlflow.note.content&value=hello",
        )
        .await;
    assert_eq!(desc.status, StatusCode::SEE_OTHER);
    assert!(app
        .get(&format!("/runs/{run}"))
        .await
        .body
        .contains("<pre class=\"desc\">hello</pre>"));
    app.form(&format!("/runs/{run}/tags/delete"), "key=k").await;
    assert!(!tags(&app, run.clone()).await.contains_key("k"));
    // A refused change comes back as a message on the page.
    let bad = app.form(&format!("/runs/{run}/tags"), "key=&value=x").await;
    let to = bad.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.contains("error="), "{to}");
    assert!(app.get(&to).await.body.contains("role=\"alert\""));

    // Experiments: create, rename, delete, restore.
    let created = app.form("/experiments", "name=made+here").await;
    let at = created.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let id = at.trim_start_matches("/experiments/").to_owned();
    app.form(&format!("/experiments/{id}/rename"), "name=renamed")
        .await;
    let t = app.tracker.clone();
    assert_eq!(
        t.get_experiment(&Caller::InProcess, &id)
            .await
            .unwrap()
            .name,
        "renamed"
    );
    app.form(&format!("/experiments/{id}/delete"), "").await;
    assert!(!app.get("/").await.body.contains("renamed"));
    assert!(app.get("/?view=deleted").await.body.contains("renamed"));
    app.form(&format!("/experiments/{id}/restore"), "").await;
    assert!(app.get("/?q=RENAM").await.body.contains("renamed"));
    let duplicate = app.form("/experiments", "name=renamed").await;
    assert!(duplicate.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .contains("error="));
}

#[tokio::test]
async fn series_are_sampled_columns_and_a_zoom_returns_raw_points() {
    let app = App::new();
    let exp = app.experiment("s").await;
    let run = app.run(&exp, "r", vec![]).await;
    app.metrics(
        &run,
        "loss",
        (0..20_000).map(|s| (s, if s == 12_345 { 1e6 } else { 1.0 })),
    )
    .await;
    let a = app
        .get(&format!("/ui-api/series?run={run}&key=loss&points=500"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    let s = &v["series"][0];
    assert_eq!(s["total"], 20_000);
    let steps = s["steps"].as_array().unwrap();
    assert!(steps.len() <= 500 && steps.len() > 100, "{}", steps.len());
    assert!(
        s["values"].as_array().unwrap().contains(&json!(1e6)),
        "the spike survives sampling"
    );
    let zoom: Value = serde_json::from_str(
        &app.get(&format!(
            "/ui-api/series?run={run}&key=loss&points=500&start=12000&end=12199"
        ))
        .await
        .body,
    )
    .unwrap();
    assert_eq!(zoom["series"][0]["total"], 200);
    assert_eq!(
        zoom["series"][0]["steps"].as_array().unwrap().len(),
        200,
        "raw points"
    );
    let unknown = app
        .get("/ui-api/series?run=0123456789abcdef0123456789abcdef&key=loss")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad = app.get("/ui-api/series?key=loss").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("INVALID_PARAMETER_VALUE"));
}

#[tokio::test]
async fn compare_highlights_differences_and_models_pages_list_the_registry() {
    let app = App::new();
    let exp = app.experiment("c").await;
    let a = app.run(&exp, "run-a", vec![]).await;
    let b = app.run(&exp, "run-b", vec![]).await;
    for (run, lr) in [(&a, "0.1"), (&b, "0.2")] {
        app.rest(
            "runs/log-batch",
            json!({"run_id": run, "params": [{"key": "lr", "value": lr}, {"key": "same", "value": "x"}]}),
        )
        .await;
    }
    let html = app.get(&format!("/compare?runs={a}&runs={b}")).await.body;
    assert!(html.contains("<tr class=\"diff\"><th>lr</th>"), "{html}");
    assert!(html.contains("<tr><th>same</th>") || html.contains("<tr class=\"\"><th>same</th>"));
    assert_eq!(app.get("/compare").await.status, StatusCode::BAD_REQUEST);

    let model = app
        .send(
            Request::post("/api/2.0/mlflow/logged-models")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"experiment_id": exp, "name": "clf", "source_run_id": a}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(model.status, StatusCode::OK, "{}", model.body);
    let logged = app.get(&format!("/experiments/{exp}/models")).await.body;
    assert!(logged.contains(">clf<") && logged.contains(&format!("/runs/{a}")));
    assert!(app
        .get(&format!("/runs/{a}"))
        .await
        .body
        .contains("Logged models"));

    app.rest("registered-models/create", json!({"name": "iris <b>"}))
        .await;
    app.rest(
        "model-versions/create",
        json!({"name": "iris <b>", "source": format!("runs:/{a}/clf"), "run_id": a}),
    )
    .await;
    app.rest(
        "registered-models/alias",
        json!({"name": "iris <b>", "alias": "champion", "version": "1"}),
    )
    .await;
    let list = app.get("/models").await.body;
    assert!(list.contains("iris &lt;b&gt;") && list.contains("@champion"));
    let one = app.get("/models/iris%20%3Cb%3E").await.body;
    assert!(
        one.contains(&format!("/runs/{a}")) && one.contains("@champion"),
        "{one}"
    );
    assert_eq!(app.get("/models/nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_are_embedded_and_cacheable() {
    let app = App::new();
    let page = app.get("/").await.body;
    let at = page.find("/static/app.js?v=").unwrap();
    let url = &page[at..at + page[at..].find('"').unwrap()];
    let js = app.get(url).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = js.headers[header::ETAG].clone();
    let again = app
        .send(
            Request::get(url)
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(app.get("/static/uPlot.iife.min.js").await.body.len() > 40_000);
    assert_eq!(
        app.get("/static/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
}
