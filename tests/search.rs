//! SearchRuns / SearchExperiments with the filter language, order_by and paging, and
//! sampled metric history, over gRPC against a real server.

mod common;

use std::collections::HashSet;

use common::*;
use tonic::transport::Channel;
use tonic::Code;
use trackd_proto::v1 as pb;
use trackd_proto::v1::tracking_service_client::TrackingServiceClient;

type Stub = TrackingServiceClient<Channel>;

/// name, start_time, metrics, params, tags
type FixtureRow = (
    &'static str,
    i64,
    &'static [(&'static str, f64)],
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

struct Fixture {
    exp: String,
    /// run name → run id
    ids: std::collections::HashMap<String, String>,
}

/// Five runs with varied data:
/// | name | metrics            | params              | tags                      | status   |
/// | a    | acc 0.9, loss 0.1  | model cnn, lr 0.1   | team vision, my tag x     | FINISHED |
/// | b    | acc 0.8, f1-score 1| model rnn, lr 0.01  | team nlp                  | RUNNING  |
/// | c    | acc 0.8            | model CNN-big       | team Vision               | FAILED   |
/// | d    | (none)             | model cnn           | q it's                    | RUNNING  |
/// | e    | acc -1.5           | (none)              | (none)                    | RUNNING, deleted |
async fn fixture(c: &mut Stub) -> Fixture {
    let exp = experiment(c, "search").await;
    let mut ids = std::collections::HashMap::new();
    let rows: [FixtureRow; 5] = [
        (
            "a",
            1000,
            &[("acc", 0.9), ("loss", 0.1)],
            &[("model", "cnn"), ("lr", "0.1")],
            &[("team", "vision"), ("my tag", "x")],
        ),
        (
            "b",
            2000,
            &[("acc", 0.8), ("f1-score", 1.0)],
            &[("model", "rnn"), ("lr", "0.01")],
            &[("team", "nlp")],
        ),
        (
            "c",
            3000,
            &[("acc", 0.8)],
            &[("model", "CNN-big")],
            &[("team", "Vision")],
        ),
        ("d", 4000, &[], &[("model", "cnn")], &[("q", "it's")]),
        ("e", 5000, &[("acc", -1.5)], &[], &[]),
    ];
    for (name, start, metrics, params, tags) in rows {
        let run = c
            .create_run(pb::CreateRunRequest {
                experiment_id: exp.clone(),
                run_name: name.into(),
                start_time: Some(start),
                user_id: format!("user-{name}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .run
            .unwrap()
            .info
            .unwrap()
            .run_id;
        c.log_batch(pb::LogBatchRequest {
            run_id: run.clone(),
            metrics: metrics.iter().map(|(k, v)| metric(k, *v, 1, 0)).collect(),
            params: params
                .iter()
                .map(|(k, v)| pb::Param {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            tags: tags
                .iter()
                .map(|(k, v)| pb::RunTag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        })
        .await
        .unwrap();
        ids.insert(name.to_owned(), run);
    }
    let status = |s: pb::RunStatus| Some(s as i32);
    c.update_run(pb::UpdateRunRequest {
        run_id: ids["a"].clone(),
        status: status(pb::RunStatus::Finished),
        end_time: Some(1500),
        ..Default::default()
    })
    .await
    .unwrap();
    c.update_run(pb::UpdateRunRequest {
        run_id: ids["c"].clone(),
        status: status(pb::RunStatus::Failed),
        end_time: Some(3500),
        ..Default::default()
    })
    .await
    .unwrap();
    c.delete_run(pb::DeleteRunRequest {
        run_id: ids["e"].clone(),
    })
    .await
    .unwrap();
    Fixture { exp, ids }
}

async fn names(
    c: &mut Stub,
    f: &Fixture,
    filter: &str,
    view: pb::ViewType,
    order_by: &[&str],
) -> Result<Vec<String>, tonic::Status> {
    let by_id: std::collections::HashMap<&String, &String> =
        f.ids.iter().map(|(n, i)| (i, n)).collect();
    let runs = c
        .search_runs(pb::SearchRunsRequest {
            experiment_ids: vec![f.exp.clone()],
            filter: filter.into(),
            run_view_type: view as i32,
            order_by: order_by.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .runs;
    Ok(runs
        .iter()
        .map(|r| by_id[&r.info.as_ref().unwrap().run_id].to_string())
        .collect())
}

/// Every operator on every identifier type, MLflow's missing-value rule, and quoting forms.
#[tokio::test]
async fn operators_by_type_and_quoting() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let active = pb::ViewType::ActiveOnly;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let cases: &[(&str, &[&str])] = &[
        // metrics: numeric comparators; runs without the metric never match
        ("metrics.acc = 0.8", &["b", "c"]),
        ("metrics.acc != 0.8", &["a"]),
        ("metrics.acc < 0.85", &["b", "c"]),
        ("metrics.acc <= 0.8", &["b", "c"]),
        ("metrics.acc > 0.8", &["a"]),
        ("metrics.acc >= 0.8", &["a", "b", "c"]),
        ("metric.loss < 1", &["a"]),
        ("metrics.\"f1-score\" = 1", &["b"]),
        ("metrics.`f1-score` >= 1.0", &["b"]),
        // params: =, !=, LIKE, ILIKE, IN, NOT IN
        ("params.model = 'cnn'", &["a", "d"]),
        ("params.model != 'cnn'", &["b", "c"]),
        ("params.model LIKE 'cnn%'", &["a", "d"]),
        ("params.model ILIKE 'cnn%'", &["a", "c", "d"]),
        ("params.model IN ('rnn', 'CNN-big')", &["b", "c"]),
        ("params.model NOT IN ('rnn', 'CNN-big')", &["a", "d"]),
        ("parameters.lr = \"0.01\"", &["b"]),
        ("params.lr != '0.1'", &["b"]),
        // tags
        ("tags.team = 'vision'", &["a"]),
        ("tags.team ILIKE 'VISION'", &["a", "c"]),
        ("tags.team LIKE '_lp'", &["b"]),
        ("tags.`my tag` = 'x'", &["a"]),
        ("tags.\"my tag\" != 'y'", &["a"]),
        ("tags.q = 'it''s'", &["d"]),
        ("tags.mlflow.runName = 'c'", &["c"]),
        ("tags.team IN ('nlp')", &["b"]),
        ("tags.team NOT IN ('nlp')", &["a", "c"]),
        // attributes
        ("attributes.status = 'RUNNING'", &["b", "d"]),
        ("status != 'RUNNING'", &["a", "c"]),
        ("attributes.status IN ('FAILED', 'FINISHED')", &["a", "c"]),
        ("attributes.run_name LIKE '%a%'", &["a"]),
        ("run_name ILIKE 'B'", &["b"]),
        ("attributes.user_id = 'user-d'", &["d"]),
        (
            "attributes.artifact_uri LIKE 'mlflow-artifacts:/%'",
            &["a", "b", "c", "d"],
        ),
        ("attributes.start_time > 2000", &["c", "d"]),
        ("attributes.start_time <= 2000", &["a", "b"]),
        ("created >= 3000", &["c", "d"]),
        ("attributes.end_time < 3000", &["a"]),
        ("attributes.end_time > 0", &["a", "c"]),
        (
            "attributes.lifecycle_stage = 'active'",
            &["a", "b", "c", "d"],
        ),
    ];
    for (filter, expected) in cases {
        let got = sorted(
            names(&mut c, &f, filter, active, &[])
                .await
                .unwrap_or_else(|e| panic!("{filter}: {e}")),
        );
        assert_eq!(got, *expected, "{filter}");
    }
    let run_id_in = format!("attributes.run_id IN ('{}', '{}')", f.ids["a"], f.ids["e"]);
    assert_eq!(
        names(&mut c, &f, &run_id_in, active, &[]).await.unwrap(),
        vec!["a"]
    );
    assert_eq!(
        names(&mut c, &f, &run_id_in, pb::ViewType::All, &[])
            .await
            .unwrap()
            .len(),
        2
    );
    let run_id_eq = format!("run_id = '{}'", f.ids["b"]);
    assert_eq!(
        names(&mut c, &f, &run_id_eq, active, &[]).await.unwrap(),
        vec!["b"]
    );
    assert_eq!(
        names(
            &mut c,
            &f,
            "metrics.acc < 0",
            pb::ViewType::DeletedOnly,
            &[]
        )
        .await
        .unwrap(),
        vec!["e"]
    );
    assert_eq!(
        names(
            &mut c,
            &f,
            "METRICS.acc > 0.85 and PARAMS.model like 'c%'",
            active,
            &[]
        )
        .await
        .unwrap(),
        vec!["a"]
    );
}

/// OR and parentheses, with AND binding tighter.
#[tokio::test]
async fn or_and_precedence_with_parentheses() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let q = |filter: &'static str| {
        let mut c = c.clone();
        let f = &f;
        async move {
            let mut v = names(&mut c, f, filter, pb::ViewType::ActiveOnly, &[])
                .await
                .unwrap();
            v.sort();
            v
        }
    };
    assert_eq!(
        q("params.model = 'rnn' OR tags.team = 'Vision'").await,
        vec!["b", "c"]
    );
    // AND first: rnn OR (cnn AND acc > 0.85)
    assert_eq!(
        q("params.model = 'rnn' OR params.model = 'cnn' AND metrics.acc > 0.85").await,
        vec!["a", "b"]
    );
    assert_eq!(
        q("(params.model = 'rnn' OR params.model = 'cnn') AND metrics.acc > 0.85").await,
        vec!["a"]
    );
    assert_eq!(
        q("((metrics.acc = 0.8)) AND (status = 'FAILED' OR status = 'RUNNING')").await,
        vec!["b", "c"]
    );
}

/// order_by on metrics, params, tags and attributes: missing values last, ties broken by
/// start_time DESC then run_id.
#[tokio::test]
async fn ordering_with_ties_and_missing_values() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let all = pb::ViewType::ActiveOnly;
    assert_eq!(
        names(&mut c, &f, "", all, &[]).await.unwrap(),
        vec!["d", "c", "b", "a"],
        "default: start_time DESC"
    );
    // b and c tie on acc 0.8 → start_time DESC puts c first; d has no acc → last.
    assert_eq!(
        names(&mut c, &f, "", all, &["metrics.acc DESC"])
            .await
            .unwrap(),
        vec!["a", "c", "b", "d"]
    );
    assert_eq!(
        names(&mut c, &f, "", all, &["metrics.acc"]).await.unwrap(),
        vec!["c", "b", "a", "d"]
    );
    // params are strings: "0.01" < "0.1"; runs without lr last, by start_time DESC.
    assert_eq!(
        names(&mut c, &f, "", all, &["params.lr ASC"])
            .await
            .unwrap(),
        vec!["b", "a", "d", "c"]
    );
    assert_eq!(
        names(&mut c, &f, "", all, &["attributes.run_name DESC"])
            .await
            .unwrap(),
        vec!["d", "c", "b", "a"]
    );
    assert_eq!(
        names(&mut c, &f, "", all, &["tags.team", "attributes.start_time"])
            .await
            .unwrap(),
        vec!["c", "b", "a", "d"]
    );
    assert_eq!(
        names(&mut c, &f, "", all, &["attributes.end_time DESC"])
            .await
            .unwrap(),
        vec!["c", "a", "d", "b"]
    );
    for bad in ["metrics.acc SIDEWAYS", "attributes.nope", "", "foo.bar"] {
        let r = names(&mut c, &f, "", all, &[bad]).await;
        expect_code(r, Code::InvalidArgument);
    }
}

/// Bad filters are INVALID_ARGUMENT, with a position, and fast even when huge.
#[tokio::test]
async fn bad_filters_are_refused_quickly() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let ten_thousand_ands = vec!["metrics.acc > 0"; 10_000].join(" AND ");
    let one_mb = format!("params.model = '{}'", "x".repeat(1 << 20));
    let cases = [
        "params.model = 'unclosed",
        "foo.bar = 'x'",
        "metrics.acc >",
        "metrics.acc = 'x'",
        "params.model = cnn",
        "params.model > 1",
        "params.a = 'x' OR 1 = 1",
        "'; DROP TABLE runs;--",
        "metrics.",
        "(metrics.acc > 0",
        "metrics.acc > 0 metrics.acc < 1",
        ten_thousand_ands.as_str(),
        one_mb.as_str(),
    ];
    for filter in cases {
        let status = expect_code(
            names(&mut c, &f, filter, pb::ViewType::ActiveOnly, &[]).await,
            Code::InvalidArgument,
        );
        if filter.len() > 16 * 1024 {
            // Refused for its size, before it is parsed (not after a slow parse).
            assert!(
                status.message().contains("bytes long"),
                "{}: {}",
                &filter[..40],
                status.message()
            );
        }
        assert!(status.message().len() < 1000, "error messages stay short");
        assert_eq!(
            status.metadata().get("x-mlflow-error-code").unwrap(),
            "INVALID_PARAMETER_VALUE"
        );
    }
    let status = expect_code(
        names(&mut c, &f, "metrics.acc >", pb::ViewType::ActiveOnly, &[]).await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().contains("position 13"),
        "{}",
        status.message()
    );
}

/// 2,500 runs, pages of 1000 with a filter and an order: every run once; runs created while
/// paging do not shift what is left.
#[tokio::test]
async fn paging_is_stable_under_concurrent_inserts() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let exp = experiment(&mut c, "paging").await;
    let mut expected = HashSet::new();
    for i in 0..2500i64 {
        let id = c
            .create_run(pb::CreateRunRequest {
                experiment_id: exp.clone(),
                start_time: Some(i % 97),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .run
            .unwrap()
            .info
            .unwrap()
            .run_id;
        c.log_metric(pb::LogMetricRequest {
            run_id: id.clone(),
            key: "score".into(),
            value: (i % 13) as f64,
            timestamp: 1,
            ..Default::default()
        })
        .await
        .unwrap();
        expected.insert(id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .search_runs(pb::SearchRunsRequest {
                experiment_ids: vec![exp.clone()],
                filter: "metrics.score >= 0".into(),
                order_by: vec!["metrics.score DESC".into()],
                max_results: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(
            page.runs
                .iter()
                .map(|r| r.info.as_ref().unwrap().run_id.clone()),
        );
        if pages == 1 {
            // New runs with scores on both sides of the page boundary.
            for s in [0.0, 6.0, 12.0, 100.0] {
                let id = run(&mut c, &exp).await;
                c.log_metric(pb::LogMetricRequest {
                    run_id: id,
                    key: "score".into(),
                    value: s,
                    timestamp: 1,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no run twice");
    assert!(
        expected.iter().all(|id| unique.contains(id)),
        "no run of the original 2,500 missing"
    );
    let bad = c
        .search_runs(pb::SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            order_by: vec!["metrics.score DESC".into(), "params.x".into()],
            page_token: token.clone(),
            ..Default::default()
        })
        .await;
    if !token.is_empty() {
        expect_code(bad, Code::InvalidArgument);
    }
}

/// SearchExperiments: name LIKE, tags, times, order_by and view types.
#[tokio::test]
async fn search_experiments_with_filter_and_order() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for name in ["vision-a", "vision-b", "nlp-a"] {
        let id = experiment(&mut c, name).await;
        c.set_experiment_tag(pb::SetExperimentTagRequest {
            experiment_id: id,
            key: "team".into(),
            value: name[..name.find('-').unwrap()].into(),
        })
        .await
        .unwrap();
    }
    let search = |filter: &str, order: &[&str]| pb::SearchExperimentsRequest {
        filter: filter.into(),
        order_by: order.iter().map(|s| (*s).into()).collect(),
        ..Default::default()
    };
    let names = |r: pb::SearchExperimentsResponse| {
        r.experiments
            .into_iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
    };
    let r = c
        .search_experiments(search("name LIKE 'vision%'", &["name DESC"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(r), vec!["vision-b", "vision-a"]);
    let r = c
        .search_experiments(search(
            "tags.team = 'nlp' OR attributes.name = 'Default'",
            &["name"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(r), vec!["Default", "nlp-a"]);
    let r = c
        .search_experiments(search(
            "creation_time > 0 AND name ILIKE '%A'",
            &["experiment_id DESC"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(r), vec!["nlp-a", "vision-a"]);
    let mut token = String::new();
    let mut all = Vec::new();
    loop {
        let r = c
            .search_experiments(pb::SearchExperimentsRequest {
                max_results: 1,
                order_by: vec!["name".into()],
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(r.experiments.into_iter().map(|e| e.name));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(all, vec!["Default", "nlp-a", "vision-a", "vision-b"]);
    expect_code(
        c.search_experiments(search("metrics.a > 1", &[])).await,
        Code::InvalidArgument,
    );
    expect_code(
        c.search_experiments(search("", &["tags.team"])).await,
        Code::InvalidArgument,
    );
}

/// Sampled history keeps first, last and extremes within max_points, zooms by step range,
/// and validates its arguments.
#[tokio::test]
async fn sampled_history_for_charts() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let client = trackd_client::Client::connect(&server.handle.url())
        .await
        .unwrap();
    let run = client.attach(&run_id).await.unwrap();
    for step in 0..100_000i64 {
        let v = if step == 77_777 {
            1e9
        } else if step == 12_345 {
            -1e9
        } else {
            (step % 1000) as f64
        };
        run.log_metric_at("loss", v, step, 1_700_000_000_000 + step)
            .await
            .unwrap();
    }
    run.flush().await.unwrap();
    for method in [pb::SamplingMethod::MinMax, pb::SamplingMethod::Lttb] {
        let r = c
            .get_sampled_metric_history(pb::GetSampledMetricHistoryRequest {
                run_ids: vec![run_id.clone()],
                metric_keys: vec!["loss".into(), "absent".into()],
                max_points: 500,
                method: method as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.series.len(), 2);
        let s = &r.series[0];
        assert_eq!(s.total_points, 100_000);
        assert!(
            s.points.len() <= 500 && s.points.len() > 100,
            "{:?}: {}",
            method,
            s.points.len()
        );
        assert_eq!(s.points.first().unwrap().step, 0);
        assert_eq!(s.points.last().unwrap().step, 99_999);
        assert!(
            s.points.iter().any(|p| p.value == 1e9) && s.points.iter().any(|p| p.value == -1e9)
        );
        assert!(s.points.windows(2).all(|w| w[0].step < w[1].step));
        assert!(r.series[1].points.is_empty());
    }
    // Steps logged out of order are sampled in step order all the same.
    for step in (0..5_000i64).rev() {
        let v = if step == 4_321 { -5.0 } else { step as f64 };
        run.log_metric_at("backwards", v, step, 1_700_000_000_000)
            .await
            .unwrap();
    }
    run.flush().await.unwrap();
    let r = c
        .get_sampled_metric_history(pb::GetSampledMetricHistoryRequest {
            run_ids: vec![run_id.clone()],
            metric_keys: vec!["backwards".into()],
            max_points: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let s = &r.series[0];
    assert_eq!(s.total_points, 5_000);
    assert!(s.points.len() <= 50);
    assert!(s.points.windows(2).all(|w| w[0].step < w[1].step));
    assert_eq!(
        (s.points[0].step, s.points.last().unwrap().step),
        (0, 4_999)
    );
    assert!(s.points.iter().any(|p| p.value == -5.0));
    let zoom = c
        .get_sampled_metric_history(pb::GetSampledMetricHistoryRequest {
            run_ids: vec![run_id.clone()],
            metric_keys: vec!["loss".into()],
            start_step: Some(10_000),
            end_step: Some(10_099),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let steps: Vec<i64> = zoom.series[0].points.iter().map(|p| p.step).collect();
    assert_eq!(
        steps,
        (10_000..10_100).collect::<Vec<_>>(),
        "a zoomed range small enough comes back whole"
    );
    for bad in [
        pb::GetSampledMetricHistoryRequest {
            run_ids: vec![run_id.clone()],
            metric_keys: vec!["loss".into()],
            start_step: Some(5),
            end_step: Some(1),
            ..Default::default()
        },
        pb::GetSampledMetricHistoryRequest {
            run_ids: vec![],
            metric_keys: vec!["loss".into()],
            ..Default::default()
        },
        pb::GetSampledMetricHistoryRequest {
            run_ids: vec![run_id.clone()],
            metric_keys: vec!["loss".into()],
            max_points: -1,
            ..Default::default()
        },
        pb::GetSampledMetricHistoryRequest {
            run_ids: vec![run_id.clone()],
            metric_keys: (0..1001).map(|i| format!("k{i}")).collect(),
            ..Default::default()
        },
    ] {
        expect_code(
            c.get_sampled_metric_history(bad).await,
            Code::InvalidArgument,
        );
    }
}

/// `datasets.name`, `datasets.digest` and `datasets.context` (the input tag
/// `mlflow.data.context`), as MLflow: a run matches when some dataset it used satisfies the
/// comparison; a run without datasets matches nothing, not even `!=`.
#[tokio::test]
async fn dataset_filters() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let input = |name: &str, digest: &str, context: &str| pb::DatasetInput {
        tags: vec![pb::InputTag {
            key: "mlflow.data.context".into(),
            value: context.into(),
        }],
        dataset: Some(pb::Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: "{}".into(),
            ..Default::default()
        }),
    };
    for (run, datasets) in [
        (
            "a",
            vec![input("iris", "d1", "training"), input("wine", "d9", "eval")],
        ),
        ("b", vec![input("iris", "d2", "eval")]),
    ] {
        c.log_inputs(pb::LogInputsRequest {
            run_id: f.ids[run].clone(),
            datasets,
            models: vec![],
        })
        .await
        .unwrap();
    }
    let mut check = async |filter: &str, want: &[&str]| {
        let mut got = names(&mut c, &f, filter, pb::ViewType::All, &[])
            .await
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        got.sort();
        assert_eq!(got, want, "{filter}");
    };
    check("datasets.name = 'iris'", &["a", "b"]).await;
    check("dataset.name = 'wine'", &["a"]).await;
    check("datasets.context = 'training'", &["a"]).await;
    check("datasets.digest != 'd1'", &["a", "b"]).await; // a also used wine (d9)
    check("datasets.digest != 'd2' AND datasets.name = 'iris'", &["a"]).await;
    check("datasets.name IN ('wine', 'mnist')", &["a"]).await;
    check("datasets.name NOT IN ('iris')", &["a"]).await;
    check("datasets.name LIKE 'IR%'", &[]).await;
    check("datasets.name ILIKE 'IR%'", &["a", "b"]).await;
    check(
        "`datasets`.context = 'eval' AND params.model = 'rnn'",
        &["b"],
    )
    .await;
    check(
        "datasets.context = 'eval' OR metrics.acc < 0",
        &["a", "b", "e"],
    )
    .await;
    for bad in [
        "datasets.source = 'x'",
        "datasets.name > 1",
        "datasets.name = iris",
    ] {
        let err = names(&mut c, &f, bad, pb::ViewType::All, &[])
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
    }
    let err = names(&mut c, &f, "", pb::ViewType::All, &["datasets.name"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
