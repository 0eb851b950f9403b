//! `bench -- --ui`: the web UI's budgets. A server child gets a 10,000-run experiment (10
//! params, 10 metrics, 5 tags each), a run with 10 metrics of 1,000,000 points each
//! (`--quick`: 100,000) and a run with 1,000 metric keys. Then, over loopback HTTP/1.1, the
//! p50 of 20 requests of each page and chart request, with its size; and, when a Python with
//! Playwright and Debian's Chromium are there (`TRACKD_TEST_PYTHON`, as `.ci/run` sets up),
//! the browser's figures from `tests/ui_bench_browser.py`: first rows visible, sort and
//! filter round trips, first chart drawn after its data, zoom round trip, and the longest
//! main-thread task when opening the 1,000-key run.

use std::time::Instant;

use trackd_client::Client;
use trackd_proto::v1 as pb;

use super::{ServerChild, get_body, populate};

/// p50 and size of a GET, 20 timed requests after a warm-up.
async fn page_p50(addr: &str, path: &str) -> (f64, usize) {
    let (status, body) = get_body(addr, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (status, _) = get_body(addr, path).await;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], body.len())
}

/// Runs the UI benchmark against a fresh store under `dir`.
pub async fn ui(dir: &std::path::Path, quick: bool) {
    let server = ServerChild::spawn(dir, "durable");
    let addr = server.url.trim_start_matches("http://").to_owned();
    let channel = tonic::transport::Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let stub = pb::tracking_service_client::TrackingServiceClient::new(channel);
    let client = Client::connect(&server.url).await.unwrap();
    let exp = client.get_or_create_experiment("ui-10k").await.unwrap();
    let started = Instant::now();
    populate(&stub, &exp, 10_000).await;
    println!(
        "ui: 10,000 runs created in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let points: i64 = if quick { 100_000 } else { 1_000_000 };
    let long = client
        .start_run()
        .experiment_id(&exp)
        .run_name("long-10x")
        .start()
        .await
        .unwrap();
    let keys: Vec<String> = (0..10).map(|k| format!("k{k}")).collect();
    let started = Instant::now();
    for step in 0..points {
        let x = step as f64;
        let values: Vec<(&str, f64)> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                (
                    key.as_str(),
                    (1.0 + k as f64) / (1.0 + x * 1e-4)
                        + ((step * 7919 + k as i64) % 101) as f64 * 1e-3,
                )
            })
            .collect();
        long.log_metrics_at(&values, step, 1_700_000_000_000 + step)
            .await
            .unwrap();
    }
    let long_id = long.id().to_owned();
    long.finish().await.unwrap();
    println!(
        "ui: {} points (10 × {points}) logged in {:.1} s",
        10 * points,
        started.elapsed().as_secs_f64()
    );
    let wide = client
        .start_run()
        .experiment_id(&exp)
        .run_name("wide-1000")
        .start()
        .await
        .unwrap();
    for k in 0..1000 {
        wide.log_metrics_at(
            &[(format!("w{k:04}").as_str(), k as f64)],
            0,
            1_700_000_000_000,
        )
        .await
        .unwrap();
    }
    let wide_id = wide.id().to_owned();
    wide.finish().await.unwrap();

    let runs_page = format!("/experiments/{exp}");
    let rows = [
        ("experiments page", "/".to_string()),
        (
            "runs page, 10k-run experiment (100 rows)",
            runs_page.clone(),
        ),
        (
            "runs page sorted by a metric",
            format!("{runs_page}?order=metrics.m3+DESC"),
        ),
        (
            "runs page filtered (2 clauses)",
            format!("{runs_page}?filter=metrics.m1+%3E+0.5+AND+params.p2+%3D+%27v3%27"),
        ),
        ("runs page, 500 rows", format!("{runs_page}?n=500")),
        (
            "column picker (scans the 10k runs)",
            format!("{runs_page}/columns"),
        ),
        (
            "run page, 10 metrics × 1M points",
            format!("/runs/{long_id}"),
        ),
        ("run page, 1,000 metric keys", format!("/runs/{wide_id}")),
        (
            "chart series, 1 metric sampled to 1,000 points",
            format!("/ui-api/series?run={long_id}&key=k0&points=1000"),
        ),
        (
            "zoom: 1,000 raw steps of 1M",
            format!(
                "/ui-api/series?run={long_id}&key=k0&points=1000&start={}&end={}",
                points / 2,
                points / 2 + 999
            ),
        ),
    ];
    let mut json = Vec::new();
    for (name, path) in &rows {
        let (ms, bytes) = page_p50(&addr, path).await;
        println!(
            "ui_server: {name}: p50 {ms:.2} ms, {:.1} KB",
            bytes as f64 / 1e3
        );
        json.push(format!(
            "{{\"name\":{:?},\"p50_ms\":{ms:.2},\"bytes\":{bytes}}}",
            name
        ));
    }
    // The run page's whole chart payload: one sampled series per metric, as the page asks.
    let mut payload = 0;
    for key in &keys {
        let (_, body) = get_body(
            &addr,
            &format!("/ui-api/series?run={long_id}&key={key}&points=1000"),
        )
        .await;
        payload += body.len();
    }
    println!(
        "ui_server: chart payload of the 10 × {points}-point run page: {:.1} KB",
        payload as f64 / 1e3
    );
    println!(
        "{{\"workload\":\"ui\",\"points_per_series\":{points},\"chart_payload_bytes\":{payload},\"rows\":[{}]}}",
        json.join(",")
    );

    browser_figures(&server.url, &exp, &long_id, &wide_id);
    server.stop();
}

/// The browser's figures, when Playwright and Chromium are installed.
fn browser_figures(url: &str, exp: &str, long: &str, wide: &str) {
    let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_playwright = std::process::Command::new(&python)
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_playwright || !std::path::Path::new("/usr/bin/chromium").exists() {
        println!(
            "ui_browser: skipped (needs a Python with playwright in TRACKD_TEST_PYTHON and /usr/bin/chromium; `bash .ci/run` installs both)"
        );
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ui_bench_browser.py");
    let status = std::process::Command::new(python)
        .args([script, url, exp, long, wide])
        .status()
        .expect("run the browser benchmark");
    assert!(status.success(), "the browser benchmark failed");
}
