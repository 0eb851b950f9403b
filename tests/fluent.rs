//! The MLflow-style fluent API: tracking URI resolution, auto-started runs, nested runs,
//! resume via MLFLOW_RUN_ID, and the experiment resolution order. One test function, because
//! the active-run stack and the environment are process-wide.

mod common;

use common::*;
use trackd_client::fluent::{self, StartRun};
use trackd_client::{Client, ClientError, RunStatus};

fn tag(run: &trackd_client::Run, key: &str) -> Option<String> {
    run.data.tags.get(key).cloned()
}

fn clear_env() {
    for var in [
        "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_TRACKING_URI",
    ] {
        std::env::remove_var(var);
    }
}

/// The fluent API end to end against a real server, then embedded via MLFLOW_TRACKING_URI.
#[tokio::test]
async fn fluent_api_follows_mlflow() {
    clear_env();
    let server = TestServer::start().await;
    let url = server.handle.url();
    fluent::set_tracking_uri(url.clone()).await;
    assert_eq!(fluent::get_tracking_uri().await, url);
    let client = Client::connect(&url).await.unwrap();

    // Logging with no active run starts one in the Default experiment.
    fluent::log_param("auto", "yes").await.unwrap();
    let auto = fluent::active_run().await.expect("auto-started");
    assert_eq!(auto.experiment_id(), "0");
    fluent::log_metric("m", 1.5, None).await.unwrap();
    fluent::end_run(RunStatus::Finished).await.unwrap();
    assert!(fluent::active_run().await.is_none());
    let stored = client.get_run(auto.id()).await.unwrap();
    assert_eq!(stored.info.status, RunStatus::Finished);
    assert_eq!(stored.data.metrics["m"].step, 0, "step defaults to 0");
    assert_eq!(
        fluent::last_active_run_id().await.as_deref(),
        Some(auto.id())
    );

    // set_experiment creates the experiment; nested runs need nested(true).
    let exp = fluent::set_experiment("fluent-exp").await.unwrap();
    assert_eq!(fluent::set_experiment("fluent-exp").await.unwrap(), exp);
    let parent = fluent::start_run(StartRun::new().run_name("parent").tag("kind", "sweep"))
        .await
        .unwrap();
    assert_eq!(parent.experiment_id(), exp);
    let second = fluent::start_run(StartRun::new()).await;
    assert!(
        matches!(second, Err(ClientError::Usage(ref m)) if m.contains("already active")),
        "{second:?}"
    );
    let child = fluent::start_run(StartRun::new().nested(true).run_name("child"))
        .await
        .unwrap();
    assert_eq!(fluent::active_run().await.unwrap().id(), child.id());
    fluent::log_metrics(&[("loss", 0.5), ("acc", 0.9)], Some(3))
        .await
        .unwrap();
    fluent::set_tag("fold", 1).await.unwrap();
    fluent::end_run(RunStatus::Finished).await.unwrap();
    assert_eq!(fluent::active_run().await.unwrap().id(), parent.id());
    fluent::end_run(RunStatus::Failed).await.unwrap();
    let child_run = fluent::get_run(child.id()).await.unwrap();
    assert_eq!(
        tag(&child_run, "mlflow.parentRunId").as_deref(),
        Some(parent.id())
    );
    assert_eq!(tag(&child_run, "fold").as_deref(), Some("1"));
    assert_eq!(
        client.metric_history(child.id(), "acc").await.unwrap()[0].step,
        3
    );
    let parent_run = fluent::get_run(parent.id()).await.unwrap();
    assert_eq!(parent_run.info.status, RunStatus::Failed);
    assert_eq!(tag(&parent_run, "kind").as_deref(), Some("sweep"));

    // MLFLOW_RUN_ID resumes that run, once.
    fluent::reset().await.unwrap();
    fluent::set_tracking_uri(url.clone()).await;
    std::env::set_var("MLFLOW_RUN_ID", parent.id());
    let resumed = fluent::start_run(StartRun::new()).await.unwrap();
    assert_eq!(resumed.id(), parent.id());
    assert_eq!(
        client.get_run(parent.id()).await.unwrap().info.status,
        RunStatus::Running
    );
    fluent::end_run(RunStatus::Finished).await.unwrap();
    let fresh = fluent::start_run(StartRun::new()).await.unwrap();
    assert_ne!(fresh.id(), parent.id(), "MLFLOW_RUN_ID is used once");
    fluent::end_run(RunStatus::Finished).await.unwrap();
    std::env::remove_var("MLFLOW_RUN_ID");

    // Experiment resolution: argument > set_experiment > MLFLOW_EXPERIMENT_NAME > MLFLOW_EXPERIMENT_ID > "0".
    fluent::reset().await.unwrap();
    fluent::set_tracking_uri(url.clone()).await;
    std::env::set_var("MLFLOW_EXPERIMENT_NAME", "from-env");
    let by_name = fluent::start_run(StartRun::new()).await.unwrap();
    let env_exp = client
        .get_experiment_by_name("from-env")
        .await
        .unwrap()
        .expect("created from env")
        .experiment_id;
    assert_eq!(by_name.experiment_id(), env_exp);
    fluent::end_run(RunStatus::Finished).await.unwrap();
    std::env::set_var("MLFLOW_EXPERIMENT_ID", &exp);
    let clash = fluent::start_run(StartRun::new()).await.unwrap_err();
    assert_eq!(
        clash.code(),
        tonic::Code::InvalidArgument,
        "name and id disagree: {clash}"
    );
    std::env::remove_var("MLFLOW_EXPERIMENT_NAME");
    let by_id = fluent::start_run(StartRun::new()).await.unwrap();
    assert_eq!(by_id.experiment_id(), exp);
    fluent::end_run(RunStatus::Finished).await.unwrap();
    std::env::set_var("MLFLOW_EXPERIMENT_ID", "99999");
    assert_eq!(
        fluent::start_run(StartRun::new()).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    fluent::set_experiment_by_id(&env_exp).await.unwrap();
    let by_set = fluent::start_run(StartRun::new()).await.unwrap();
    assert_eq!(
        by_set.experiment_id(),
        env_exp,
        "set_experiment beats the environment"
    );
    fluent::end_run(RunStatus::Finished).await.unwrap();
    let by_arg = fluent::start_run(StartRun::new().experiment_id("0"))
        .await
        .unwrap();
    assert_eq!(
        by_arg.experiment_id(),
        "0",
        "the argument beats set_experiment"
    );
    fluent::end_run(RunStatus::Finished).await.unwrap();
    // Resuming a run of another experiment than the active one is refused, and the run
    // keeps its status.
    let mismatch = fluent::start_run(StartRun::new().run_id(by_arg.id()))
        .await
        .unwrap_err();
    assert!(
        mismatch.to_string().contains("does not match"),
        "{mismatch}"
    );
    assert_eq!(
        client.get_run(by_arg.id()).await.unwrap().info.status,
        RunStatus::Finished
    );
    assert!(fluent::active_run().await.is_none());
    std::env::remove_var("MLFLOW_EXPERIMENT_ID");

    // MLFLOW_TRACKING_URI with a directory runs embedded.
    fluent::reset().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("MLFLOW_TRACKING_URI", dir.path());
    assert_eq!(
        fluent::get_tracking_uri().await,
        dir.path().to_str().unwrap()
    );
    fluent::log_metric("local", 2.0, Some(1)).await.unwrap();
    let local = fluent::active_run().await.unwrap();
    fluent::end_run(RunStatus::Finished).await.unwrap();
    let embedded = Client::connect(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(
        embedded
            .metric_history(local.id(), "local")
            .await
            .unwrap()
            .len(),
        1
    );
    clear_env();
}
