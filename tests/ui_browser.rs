//! The web UI in a real browser: `tests/ui_browser.py` drives Debian's Chromium with
//! Playwright (both installed by `.ci/run`) against a real server on 127.0.0.1:0 — it seeds
//! data over the REST API, walks every page, asserts what a person sees (including that a
//! run named `<img src=x onerror=alert(1)>` runs no script) and saves screenshots under
//! `target/ui-screenshots/`.

mod common;

/// Every page of the UI, as a person uses it, in headless Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_in_a_real_browser() {
    let Some(python) = common::usable_python("import playwright") else {
        return;
    };
    let chromium =
        std::env::var("TRACKD_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        assert!(
            !common::tools_required(),
            "Chromium is required at {chromium} (TRACKD_TEST_CHROMIUM; .ci/run installs Debian's chromium)"
        );
        eprintln!("SKIPPED: no Chromium at {chromium}; run `bash .ci/run`");
        return;
    }
    let server = common::TestServer::start().await;
    let script = format!("{}/tests/ui_browser.py", env!("CARGO_MANIFEST_DIR"));
    let stdout = common::run_python(&python, &server.handle.url(), &[&script]).await;
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
