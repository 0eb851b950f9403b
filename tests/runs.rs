//! Runs over gRPC: lifecycle, names, params, tags, metrics, limits and search paging.

mod common;

use common::*;
use tonic::Code;
use trackd_proto::v1 as pb;

fn tag(k: &str, v: &str) -> pb::RunTag {
    pb::RunTag {
        key: k.into(),
        value: v.into(),
    }
}

fn param(k: &str, v: &str) -> pb::Param {
    pb::Param {
        key: k.into(),
        value: v.into(),
    }
}

/// A run gets a 32-hex id, RUNNING status, a generated name mirrored in `mlflow.runName`,
/// and an mlflow-artifacts URI; explicit names and name tags must agree.
#[tokio::test]
async fn create_run_defaults_and_names() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run = c
        .create_run(pb::CreateRunRequest::default())
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let info = run.info.unwrap();
    assert_eq!(info.run_id.len(), 32);
    assert!(info
        .run_id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(info.run_uuid, info.run_id);
    assert_eq!(info.experiment_id, "0");
    assert_eq!(info.status, pb::RunStatus::Running as i32);
    assert_eq!(info.lifecycle_stage, "active");
    assert_eq!(info.end_time, None);
    assert!(info.start_time > 0);
    assert_eq!(
        info.artifact_uri,
        format!("mlflow-artifacts:/0/{}/artifacts", info.run_id)
    );
    assert_eq!(
        info.run_name.split('-').count(),
        3,
        "generated name {}",
        info.run_name
    );
    let tags = run.data.unwrap().tags;
    assert!(tags.contains(&tag("mlflow.runName", &info.run_name)));

    let named = c
        .create_run(pb::CreateRunRequest {
            run_name: "mine".into(),
            start_time: Some(1234),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(named.info.as_ref().unwrap().run_name, "mine");
    assert_eq!(named.info.as_ref().unwrap().start_time, 1234);
    let from_tag = c
        .create_run(pb::CreateRunRequest {
            tags: vec![tag("mlflow.runName", "tagged")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(from_tag.info.unwrap().run_name, "tagged");
    let clash = c
        .create_run(pb::CreateRunRequest {
            run_name: "a".into(),
            tags: vec![tag("mlflow.runName", "b")],
            ..Default::default()
        })
        .await;
    expect_code(clash, Code::InvalidArgument);
    let unknown_exp = c
        .create_run(pb::CreateRunRequest {
            experiment_id: "999".into(),
            ..Default::default()
        })
        .await;
    expect_code(unknown_exp, Code::NotFound);
}

/// UpdateRun changes only what is set; a new name rewrites the tag and vice versa.
#[tokio::test]
async fn update_run_and_name_sync() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let info = c
        .update_run(pb::UpdateRunRequest {
            run_id: id.clone(),
            status: Some(pb::RunStatus::Finished as i32),
            end_time: Some(99),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run_info
        .unwrap();
    assert_eq!(info.status, pb::RunStatus::Finished as i32);
    assert_eq!(info.end_time, Some(99));
    let renamed = c
        .update_run(pb::UpdateRunRequest {
            run_uuid: id.clone(),
            run_name: Some("renamed".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run_info
        .unwrap();
    assert_eq!(renamed.run_name, "renamed");
    assert_eq!(
        renamed.status,
        pb::RunStatus::Finished as i32,
        "status untouched"
    );
    let run = get_run(&mut c, &id).await;
    assert!(run
        .data
        .unwrap()
        .tags
        .contains(&tag("mlflow.runName", "renamed")));
    c.set_tag(pb::SetTagRequest {
        run_id: id.clone(),
        key: "mlflow.runName".into(),
        value: "via-tag".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(get_run(&mut c, &id).await.info.unwrap().run_name, "via-tag");
    let bad_status = c
        .update_run(pb::UpdateRunRequest {
            run_id: id.clone(),
            status: Some(42),
            ..Default::default()
        })
        .await;
    expect_code(bad_status, Code::InvalidArgument);
}

/// Deleted runs refuse writes with MLflow's message; finished runs accept them; restore
/// brings a run back.
#[tokio::test]
async fn lifecycle_rules_for_writes() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    c.update_run(pb::UpdateRunRequest {
        run_id: id.clone(),
        status: Some(pb::RunStatus::Finished as i32),
        ..Default::default()
    })
    .await
    .unwrap();
    c.log_param(pb::LogParamRequest {
        run_id: id.clone(),
        key: "after".into(),
        value: "finish".into(),
        ..Default::default()
    })
    .await
    .expect("finished runs accept writes");
    c.delete_run(pb::DeleteRunRequest { run_id: id.clone() })
        .await
        .unwrap();
    assert_eq!(
        get_run(&mut c, &id).await.info.unwrap().lifecycle_stage,
        "deleted"
    );
    let writes = [
        c.log_metric(pb::LogMetricRequest {
            run_id: id.clone(),
            key: "m".into(),
            value: 1.0,
            timestamp: 1,
            ..Default::default()
        })
        .await
        .map(|_| ()),
        c.log_param(pb::LogParamRequest {
            run_id: id.clone(),
            key: "p".into(),
            value: "v".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        c.set_tag(pb::SetTagRequest {
            run_id: id.clone(),
            key: "t".into(),
            value: "v".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        c.update_run(pb::UpdateRunRequest {
            run_id: id.clone(),
            run_name: Some("x".into()),
            ..Default::default()
        })
        .await
        .map(|_| ()),
    ];
    for w in writes {
        let status = expect_code(w, Code::InvalidArgument);
        assert!(
            status.message().contains("must be in the 'active' state"),
            "{}",
            status.message()
        );
    }
    c.restore_run(pb::RestoreRunRequest { run_id: id.clone() })
        .await
        .unwrap();
    c.log_param(pb::LogParamRequest {
        run_id: id.clone(),
        key: "p".into(),
        value: "v".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Params are write-once: same value is fine, another value is refused with MLflow's text.
#[tokio::test]
async fn params_are_write_once() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let lp = |v: &str| pb::LogParamRequest {
        run_id: id.clone(),
        key: "lr".into(),
        value: v.into(),
        ..Default::default()
    };
    c.log_param(lp("0.1")).await.unwrap();
    c.log_param(lp("0.1"))
        .await
        .expect("same value again is fine");
    let status = expect_code(c.log_param(lp("0.2")).await, Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("Changing param values is not allowed."),
        "{}",
        status.message()
    );
    assert_eq!(
        status.metadata().get("x-mlflow-error-code").unwrap(),
        "INVALID_PARAMETER_VALUE"
    );
    // In a batch the conflict refuses the whole batch: nothing of it is written.
    let batch = c
        .log_batch(pb::LogBatchRequest {
            run_id: id.clone(),
            params: vec![param("new", "1"), param("lr", "0.3")],
            metrics: vec![metric("m", 1.0, 1, 0)],
            ..Default::default()
        })
        .await;
    expect_code(batch, Code::InvalidArgument);
    let data = get_run(&mut c, &id).await.data.unwrap();
    assert_eq!(data.params, vec![param("lr", "0.1")]);
    assert!(data.metrics.is_empty());
    let dup_keys = c
        .log_batch(pb::LogBatchRequest {
            run_id: id.clone(),
            params: vec![param("a", "1"), param("a", "1")],
            ..Default::default()
        })
        .await;
    let status = expect_code(dup_keys, Code::InvalidArgument);
    assert!(status.message().contains("Duplicate parameter keys"));
}

/// Tags overwrite (last one in a batch wins) and can be deleted once.
#[tokio::test]
async fn tags_overwrite_and_delete() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    c.log_batch(pb::LogBatchRequest {
        run_id: id.clone(),
        tags: vec![tag("k", "1"), tag("k", "2")],
        ..Default::default()
    })
    .await
    .unwrap();
    c.set_tag(pb::SetTagRequest {
        run_id: id.clone(),
        key: "other".into(),
        value: "x".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let tags = get_run(&mut c, &id).await.data.unwrap().tags;
    assert!(tags.contains(&tag("k", "2")) && tags.contains(&tag("other", "x")));
    c.delete_tag(pb::DeleteTagRequest {
        run_id: id.clone(),
        key: "k".into(),
    })
    .await
    .unwrap();
    let again = c
        .delete_tag(pb::DeleteTagRequest {
            run_id: id.clone(),
            key: "k".into(),
        })
        .await;
    expect_code(again, Code::NotFound);
    assert!(!get_run(&mut c, &id)
        .await
        .data
        .unwrap()
        .tags
        .iter()
        .any(|t| t.key == "k"));
}

/// Metrics append; GetRun shows the max of (step, timestamp, value); exact duplicates are
/// stored once; NaN, infinities and negative steps are accepted; negative timestamps are not.
#[tokio::test]
async fn metrics_latest_rule_dedup_and_special_values() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let batch = vec![
        metric("loss", 3.0, 100, 1),
        metric("loss", 2.0, 50, 2),
        metric("loss", 1.0, 10, 2),
        metric("loss", 5.0, 10, -7),
        metric("special", f64::NAN, 1, 0),
        metric("special", f64::INFINITY, 1, 1),
        metric("special", f64::NEG_INFINITY, 1, 2),
    ];
    c.log_batch(pb::LogBatchRequest {
        run_id: id.clone(),
        metrics: batch.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    // A retry of the same batch is stored once.
    c.log_batch(pb::LogBatchRequest {
        run_id: id.clone(),
        metrics: batch,
        ..Default::default()
    })
    .await
    .unwrap();
    c.log_metric(pb::LogMetricRequest {
        run_id: id.clone(),
        key: "loss".into(),
        value: 3.0,
        timestamp: 100,
        step: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let latest = get_run(&mut c, &id).await.data.unwrap().metrics;
    let loss = latest.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!((loss.step, loss.timestamp, loss.value), (2, 50, 2.0));
    let special = latest.iter().find(|m| m.key == "special").unwrap();
    assert_eq!(special.value, f64::NEG_INFINITY);

    let history = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "loss".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .metrics;
    let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    assert_eq!(steps, vec![-7, 1, 2, 2], "each point once, in step order");
    let special = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "special".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .metrics;
    assert!(special[0].value.is_nan());
    assert_eq!(special[1].value, f64::INFINITY);

    let neg_ts = c
        .log_metric(pb::LogMetricRequest {
            run_id: id.clone(),
            key: "loss".into(),
            value: 1.0,
            timestamp: -1,
            ..Default::default()
        })
        .await;
    expect_code(neg_ts, Code::InvalidArgument);
    let missing = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(missing.metrics.is_empty());
}

/// GetMetricHistory pages through a long series without gaps or repeats.
#[tokio::test]
async fn metric_history_pages() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    for chunk in 0..5 {
        let metrics = (0..1000)
            .map(|i| metric("acc", f64::from(i) / 1000.0, 5, chunk * 1000 + i64::from(i)))
            .collect();
        c.log_batch(pb::LogBatchRequest {
            run_id: id.clone(),
            metrics,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut steps = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .get_metric_history(pb::GetMetricHistoryRequest {
                run_id: id.clone(),
                metric_key: "acc".into(),
                max_results: 1500,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.metrics.len() <= 1500);
        steps.extend(page.metrics.iter().map(|m| m.step));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(steps, (0..5000).collect::<Vec<i64>>());
    let too_many = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "acc".into(),
            max_results: 25_001,
            ..Default::default()
        })
        .await;
    expect_code(too_many, Code::InvalidArgument);
    let bad_token = c
        .get_metric_history(pb::GetMetricHistoryRequest {
            run_id: id,
            metric_key: "acc".into(),
            page_token: "zz".into(),
            ..Default::default()
        })
        .await;
    expect_code(bad_token, Code::InvalidArgument);
}

/// Every limit of the reference table, one past the edge, is refused; at the edge accepted.
#[tokio::test]
async fn validation_limits() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = run(&mut c, "0").await;
    let lp = |k: String, v: String| pb::LogParamRequest {
        run_id: id.clone(),
        key: k,
        value: v,
        ..Default::default()
    };
    c.log_param(lp("k".repeat(250), "v".into())).await.unwrap();
    expect_code(
        c.log_param(lp("k".repeat(251), "v".into())).await,
        Code::InvalidArgument,
    );
    expect_code(
        c.log_param(lp("x".repeat(1 << 20), "v".into())).await,
        Code::InvalidArgument,
    );
    c.log_param(lp("long".into(), "v".repeat(6000)))
        .await
        .unwrap();
    expect_code(
        c.log_param(lp("longer".into(), "v".repeat(6001))).await,
        Code::InvalidArgument,
    );
    let st = |v: String| pb::SetTagRequest {
        run_id: id.clone(),
        key: "t".into(),
        value: v,
        ..Default::default()
    };
    c.set_tag(st("v".repeat(8000))).await.unwrap();
    expect_code(c.set_tag(st("v".repeat(8001))).await, Code::InvalidArgument);
    for bad in [
        "../x",
        "/x",
        "a//b",
        ".",
        "a\\b",
        "emoji😀",
        "",
        "semi;colon",
    ] {
        expect_code(
            c.log_param(lp(bad.into(), "v".into())).await,
            Code::InvalidArgument,
        );
    }
    let batch = |metrics: usize, params: usize, tags: usize| pb::LogBatchRequest {
        run_id: id.clone(),
        metrics: (0..metrics)
            .map(|i| metric("m", 1.0, 1, i as i64))
            .collect(),
        params: (0..params).map(|i| param(&format!("bp{i}"), "v")).collect(),
        tags: (0..tags).map(|i| tag(&format!("bt{i}"), "v")).collect(),
    };
    c.log_batch(batch(1000, 0, 0)).await.unwrap();
    c.log_batch(batch(0, 100, 100)).await.unwrap();
    expect_code(c.log_batch(batch(1001, 0, 0)).await, Code::InvalidArgument);
    expect_code(c.log_batch(batch(0, 101, 0)).await, Code::InvalidArgument);
    expect_code(c.log_batch(batch(0, 0, 101)).await, Code::InvalidArgument);
    expect_code(c.log_batch(batch(900, 100, 1)).await, Code::InvalidArgument);
}

/// Malformed run ids are INVALID_ARGUMENT; well-formed unknown ones are NOT_FOUND.
#[tokio::test]
async fn run_id_errors() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for (id, code) in [
        ("", Code::InvalidArgument),
        (";drop", Code::InvalidArgument),
        (&*"a".repeat(300), Code::InvalidArgument),
        ("0123456789abcdef0123456789abcdef", Code::NotFound),
        ("some-mlflow-id", Code::NotFound),
    ] {
        let get = c
            .get_run(pb::GetRunRequest {
                run_id: id.into(),
                ..Default::default()
            })
            .await;
        let status = expect_code(get, code);
        if code == Code::NotFound {
            assert_eq!(
                status.metadata().get("x-mlflow-error-code").unwrap(),
                "RESOURCE_DOES_NOT_EXIST"
            );
        }
        let log = c
            .log_metric(pb::LogMetricRequest {
                run_id: id.into(),
                key: "m".into(),
                ..Default::default()
            })
            .await;
        expect_code(log, code);
        expect_code(
            c.delete_run(pb::DeleteRunRequest { run_id: id.into() })
                .await,
            code,
        );
    }
}

/// SearchRuns pages through 2,500 runs with page size 1000: no duplicates, no gaps,
/// newest first; view types select by lifecycle.
#[tokio::test]
async fn search_runs_pages_and_views() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let exp = experiment(&mut c, "many").await;
    let mut created = Vec::new();
    for i in 0..2500 {
        let r = c
            .create_run(pb::CreateRunRequest {
                experiment_id: exp.clone(),
                start_time: Some(i % 700),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        created.push(r.run.unwrap().info.unwrap().run_id);
    }
    let mut seen = Vec::new();
    let mut starts = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .search_runs(pb::SearchRunsRequest {
                experiment_ids: vec![exp.clone()],
                max_results: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for r in &page.runs {
            let info = r.info.as_ref().unwrap();
            seen.push(info.run_id.clone());
            starts.push(info.start_time);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 2500);
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "start_time descending"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    created.sort();
    assert_eq!(unique, created);

    c.delete_run(pb::DeleteRunRequest {
        run_id: created[0].clone(),
    })
    .await
    .unwrap();
    let count = |view: pb::ViewType| {
        let mut c = c.clone();
        let exp = exp.clone();
        async move {
            c.search_runs(pb::SearchRunsRequest {
                experiment_ids: vec![exp],
                run_view_type: view as i32,
                max_results: 50_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .runs
            .len()
        }
    };
    assert_eq!(count(pb::ViewType::ActiveOnly).await, 2499);
    assert_eq!(count(pb::ViewType::DeletedOnly).await, 1);
    assert_eq!(count(pb::ViewType::All).await, 2500);
    let too_big = c
        .search_runs(pb::SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            max_results: 50_001,
            ..Default::default()
        })
        .await;
    expect_code(too_big, Code::InvalidArgument);
    let bad_token = c
        .search_runs(pb::SearchRunsRequest {
            experiment_ids: vec![exp],
            page_token: "x".into(),
            ..Default::default()
        })
        .await;
    expect_code(bad_token, Code::InvalidArgument);
}

/// LogInputs / LogOutputs / LogModel over gRPC: linked once, returned by GetRun, kept across
/// a restart, refused when invalid.
#[tokio::test]
async fn inputs_outputs_and_logged_models() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let run_id = run(&mut c, "0").await;
    let dataset = pb::DatasetInput {
        tags: vec![pb::InputTag {
            key: "mlflow.data.context".into(),
            value: "eval".into(),
        }],
        dataset: Some(pb::Dataset {
            name: "mnist".into(),
            digest: "1234".into(),
            source_type: "http".into(),
            source: "{\"url\": \"http://example.com/mnist\"}".into(),
            schema: "{}".into(),
            profile: String::new(),
        }),
    };
    for _ in 0..2 {
        c.log_inputs(pb::LogInputsRequest {
            run_id: run_id.clone(),
            datasets: vec![dataset.clone()],
            models: vec![pb::ModelInput {
                model_id: "m-in".into(),
            }],
        })
        .await
        .unwrap();
    }
    c.log_outputs(pb::LogOutputsRequest {
        run_id: run_id.clone(),
        models: vec![
            pb::ModelOutput {
                model_id: "m-out".into(),
                step: -1,
            },
            pb::ModelOutput {
                model_id: "m-out".into(),
                step: 10,
            },
        ],
    })
    .await
    .unwrap();
    let model = format!(
        r#"{{"artifact_path": "m", "flavors": {{}}, "run_id": "{run_id}", "utc_time_created": "now"}}"#
    );
    c.log_model(pb::LogModelRequest {
        run_id: run_id.clone(),
        model_json: model.clone(),
    })
    .await
    .unwrap();

    let check = |run: pb::Run| {
        let inputs = run.inputs.expect("inputs");
        assert_eq!(inputs.dataset_inputs, vec![dataset.clone()]);
        assert_eq!(
            inputs.model_inputs,
            vec![pb::ModelInput {
                model_id: "m-in".into()
            }]
        );
        let steps: Vec<i64> = run
            .outputs
            .expect("outputs")
            .model_outputs
            .iter()
            .map(|m| m.step)
            .collect();
        assert_eq!(steps, vec![-1, 10]);
        let history = run
            .data
            .unwrap()
            .tags
            .into_iter()
            .find(|t| t.key == "mlflow.log-model.history")
            .expect("history tag");
        let parsed: serde_json::Value = serde_json::from_str(&history.value).unwrap();
        assert_eq!(parsed[0]["artifact_path"], "m");
    };
    check(get_run(&mut c, &run_id).await);
    let server = server.restart().await;
    let mut c = server.client().await;
    check(get_run(&mut c, &run_id).await);

    let empty_name = pb::DatasetInput {
        dataset: Some(pb::Dataset {
            digest: "d".into(),
            source_type: "local".into(),
            source: "s".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = c
        .log_inputs(pb::LogInputsRequest {
            run_id: run_id.clone(),
            datasets: vec![empty_name],
            models: vec![],
        })
        .await;
    expect_code(err, Code::InvalidArgument);
    let err = c
        .log_outputs(pb::LogOutputsRequest {
            run_id: run_id.clone(),
            models: vec![pb::ModelOutput::default()],
        })
        .await;
    expect_code(err, Code::InvalidArgument);
    let err = c
        .log_model(pb::LogModelRequest {
            run_id,
            model_json: "[]".into(),
        })
        .await;
    expect_code(err, Code::InvalidArgument);
}
