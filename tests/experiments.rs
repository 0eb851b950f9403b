//! Experiments over gRPC: create, read, rename, tags, soft delete/restore and their errors.

mod common;

use common::*;
use tonic::Code;
use trackd_proto::v1 as pb;

/// The Default experiment ("0") exists on a fresh store and cannot be deleted.
#[tokio::test]
async fn default_experiment_exists() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let exp = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: "0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    assert_eq!(exp.name, "Default");
    assert_eq!(exp.lifecycle_stage, "active");
    assert_eq!(exp.artifact_location, "mlflow-artifacts:/0");
    let err = c
        .delete_experiment(pb::DeleteExperimentRequest {
            experiment_id: "0".into(),
        })
        .await;
    expect_code(err, Code::InvalidArgument);
}

/// Create, get by id and by name, rename, and the name-uniqueness rule (also while deleted).
#[tokio::test]
async fn create_get_rename_and_unique_names() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = experiment(&mut c, "alpha").await;
    assert_eq!(id, "1");
    let by_name = c
        .get_experiment_by_name(pb::GetExperimentByNameRequest {
            experiment_name: "alpha".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    assert_eq!(by_name.experiment_id, id);
    assert!(by_name.creation_time > 0);

    let dup = c
        .create_experiment(pb::CreateExperimentRequest {
            name: "alpha".into(),
            ..Default::default()
        })
        .await;
    let status = expect_code(dup, Code::AlreadyExists);
    assert_eq!(
        status.metadata().get("x-mlflow-error-code").unwrap(),
        "RESOURCE_ALREADY_EXISTS"
    );

    let other = experiment(&mut c, "beta").await;
    let clash = c
        .update_experiment(pb::UpdateExperimentRequest {
            experiment_id: other.clone(),
            new_name: "alpha".into(),
        })
        .await;
    expect_code(clash, Code::AlreadyExists);
    c.update_experiment(pb::UpdateExperimentRequest {
        experiment_id: other.clone(),
        new_name: "gamma".into(),
    })
    .await
    .unwrap();
    let missing = c
        .get_experiment_by_name(pb::GetExperimentByNameRequest {
            experiment_name: "beta".into(),
        })
        .await;
    expect_code(missing, Code::NotFound);

    // A deleted experiment keeps its name reserved and cannot be renamed.
    c.delete_experiment(pb::DeleteExperimentRequest {
        experiment_id: other.clone(),
    })
    .await
    .unwrap();
    let reuse = c
        .create_experiment(pb::CreateExperimentRequest {
            name: "gamma".into(),
            ..Default::default()
        })
        .await;
    expect_code(reuse, Code::AlreadyExists);
    let rename_deleted = c
        .update_experiment(pb::UpdateExperimentRequest {
            experiment_id: other,
            new_name: "delta".into(),
        })
        .await;
    let status = expect_code(rename_deleted, Code::FailedPrecondition);
    assert_eq!(
        status.metadata().get("x-mlflow-error-code").unwrap(),
        "INVALID_STATE"
    );
}

/// Bad names, unknown and malformed ids, and foreign artifact locations are refused.
#[tokio::test]
async fn experiment_input_errors() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for (name, code) in [
        ("", Code::InvalidArgument),
        (&*"n".repeat(501), Code::InvalidArgument),
    ] {
        let r = c
            .create_experiment(pb::CreateExperimentRequest {
                name: name.into(),
                ..Default::default()
            })
            .await;
        expect_code(r, code);
    }
    c.create_experiment(pb::CreateExperimentRequest {
        name: "n".repeat(500),
        ..Default::default()
    })
    .await
    .unwrap();
    for (id, code) in [
        ("12345", Code::NotFound),
        ("abc", Code::NotFound),
        (";drop", Code::InvalidArgument),
        ("", Code::InvalidArgument),
    ] {
        let r = c
            .get_experiment(pb::GetExperimentRequest {
                experiment_id: id.into(),
            })
            .await;
        expect_code(r, code);
    }
    for location in [
        "file:///etc",
        "/tmp/x",
        "http://h/x?a=../..",
        "dbfs:/x",
        "mlflow-artifacts:/../x",
        "mlflow-artifacts:/%2e%2e/x",
    ] {
        let r = c
            .create_experiment(pb::CreateExperimentRequest {
                name: format!("loc {}", location.len()),
                artifact_location: location.into(),
                ..Default::default()
            })
            .await;
        expect_code(r, Code::InvalidArgument);
    }
    let ok = c
        .create_experiment(pb::CreateExperimentRequest {
            name: "custom location".into(),
            artifact_location: "mlflow-artifacts:/team/a".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .experiment_id;
    let exp = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: ok.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        exp.experiment.unwrap().artifact_location,
        "mlflow-artifacts:/team/a"
    );
    let run = run(&mut c, &ok).await;
    let info = get_run(&mut c, &run).await.info.unwrap();
    assert_eq!(
        info.artifact_uri,
        format!("mlflow-artifacts:/team/a/{run}/artifacts")
    );
}

/// Experiment tags: set, overwrite, delete, delete a missing one, and no tags on deleted
/// experiments.
#[tokio::test]
async fn experiment_tags() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = experiment(&mut c, "tagged").await;
    let set = |k: &str, v: &str| pb::SetExperimentTagRequest {
        experiment_id: id.clone(),
        key: k.into(),
        value: v.into(),
    };
    c.set_experiment_tag(set("team", "a")).await.unwrap();
    c.set_experiment_tag(set("team", "b")).await.unwrap();
    c.set_experiment_tag(set("owner", "x")).await.unwrap();
    let exp = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    let tags: Vec<(String, String)> = exp.tags.into_iter().map(|t| (t.key, t.value)).collect();
    assert_eq!(
        tags,
        vec![("owner".into(), "x".into()), ("team".into(), "b".into())]
    );
    c.delete_experiment_tag(pb::DeleteExperimentTagRequest {
        experiment_id: id.clone(),
        key: "owner".into(),
    })
    .await
    .unwrap();
    let again = c
        .delete_experiment_tag(pb::DeleteExperimentTagRequest {
            experiment_id: id.clone(),
            key: "owner".into(),
        })
        .await;
    expect_code(again, Code::NotFound);
    let long = c.set_experiment_tag(set("v", &"x".repeat(5001))).await;
    expect_code(long, Code::InvalidArgument);
    c.delete_experiment(pb::DeleteExperimentRequest {
        experiment_id: id.clone(),
    })
    .await
    .unwrap();
    expect_code(
        c.set_experiment_tag(set("team", "c")).await,
        Code::InvalidArgument,
    );
}

/// Deleting an experiment soft-deletes its runs; restoring brings both back.
#[tokio::test]
async fn delete_and_restore_cascade_to_runs() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = experiment(&mut c, "cascade").await;
    let r1 = run(&mut c, &id).await;
    let r2 = run(&mut c, &id).await;
    let before = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    c.delete_experiment(pb::DeleteExperimentRequest {
        experiment_id: id.clone(),
    })
    .await
    .unwrap();
    let exp = c
        .get_experiment(pb::GetExperimentRequest {
            experiment_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    assert_eq!(exp.lifecycle_stage, "deleted");
    assert!(exp.last_update_time >= before.last_update_time);
    for r in [&r1, &r2] {
        assert_eq!(
            get_run(&mut c, r).await.info.unwrap().lifecycle_stage,
            "deleted"
        );
    }
    // Runs cannot be created in a deleted experiment.
    let r = c
        .create_run(pb::CreateRunRequest {
            experiment_id: id.clone(),
            ..Default::default()
        })
        .await;
    expect_code(r, Code::InvalidArgument);
    let search = |view| pb::SearchExperimentsRequest {
        view_type: view as i32,
        ..Default::default()
    };
    let active = c
        .search_experiments(search(pb::ViewType::ActiveOnly))
        .await
        .unwrap()
        .into_inner();
    assert!(active.experiments.iter().all(|e| e.experiment_id != id));
    let deleted = c
        .search_experiments(search(pb::ViewType::DeletedOnly))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.experiments.len(), 1);

    c.restore_experiment(pb::RestoreExperimentRequest {
        experiment_id: id.clone(),
    })
    .await
    .unwrap();
    for r in [&r1, &r2] {
        assert_eq!(
            get_run(&mut c, r).await.info.unwrap().lifecycle_stage,
            "active"
        );
    }
    let again = c
        .restore_experiment(pb::RestoreExperimentRequest { experiment_id: id })
        .await;
    expect_code(again, Code::InvalidArgument);
}

/// SearchExperiments pages through every experiment once, newest first, and validates
/// max_results and page tokens.
#[tokio::test]
async fn search_experiments_pages() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for i in 0..24 {
        experiment(&mut c, &format!("exp-{i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .search_experiments(pb::SearchExperimentsRequest {
                max_results: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.experiments.len() <= 10);
        seen.extend(
            page.experiments
                .into_iter()
                .map(|e| (e.creation_time, e.experiment_id.parse::<u64>().unwrap())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    // Each of the 24 created + Default exactly once (no duplicate, none missing)...
    let mut ids: Vec<u64> = seen.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..25).collect::<Vec<u64>>(), "{seen:?}");
    // ...in MLflow's order across pages: newest first, ties by id.
    let mut ordered = seen.clone();
    ordered.sort_by_key(|(created, id)| (std::cmp::Reverse(*created), *id));
    assert_eq!(seen, ordered, "newest first across pages");
    assert_eq!(
        seen.last().unwrap().1,
        0,
        "Default, created first, comes last"
    );
    for bad in [-1, 50_001] {
        let r = c
            .search_experiments(pb::SearchExperimentsRequest {
                max_results: bad,
                ..Default::default()
            })
            .await;
        expect_code(r, Code::InvalidArgument);
    }
    let r = c
        .search_experiments(pb::SearchExperimentsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await;
    expect_code(r, Code::InvalidArgument);
}
