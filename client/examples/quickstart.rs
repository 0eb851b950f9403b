//! The MLflow logging tutorial in Rust: train a logistic regression on the iris data set
//! (shipped by the `smartcore` crate), log its params, its accuracy and the model file.
//!
//! ```text
//! cargo run -p trackd-client --example quickstart                      # embedded ./mlruns
//! MLFLOW_TRACKING_URI=http://127.0.0.1:5000 cargo run -p trackd-client --example quickstart
//! ```

use smartcore::dataset::iris;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::metrics::accuracy;
use smartcore::model_selection::train_test_split;
use trackd_client::RunStatus;
use trackd_client::fluent::{self, StartRun};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Load data
    let iris = iris::load_dataset();
    let rows: Vec<Vec<f64>> = iris
        .data
        .chunks(iris.num_features)
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let x = DenseMatrix::from_2d_vec(&rows)?;
    let y: Vec<i32> = iris.target.iter().map(|&t| t as i32).collect();
    let (x_train, x_test, y_train, y_test) = train_test_split(&x, &y, 0.3, true, Some(42));

    // Define hyperparameters
    let alpha = 0.1;
    let solver = "gradient-descent";

    fluent::set_experiment("quickstart").await?;
    let run = fluent::start_run(StartRun::new().run_name("Iris Logistic Regression")).await?;
    fluent::log_param("alpha", alpha).await?;
    fluent::log_param("solver", solver).await?;

    // Train and evaluate
    let params = LogisticRegressionParameters::default().with_alpha(alpha);
    let model = LogisticRegression::fit(&x_train, &y_train, params)?;
    let y_pred = model.predict(&x_test)?;
    let acc = accuracy(&y_test, &y_pred);
    fluent::log_metric("accuracy", acc, None).await?;

    // Log the model as an artifact
    let dir = tempfile::tempdir()?;
    let model_file = dir.path().join("model.json");
    std::fs::write(&model_file, serde_json::to_vec_pretty(&model)?)?;
    run.log_artifact(&model_file, Some("iris_model")).await?;
    fluent::set_tag("Training Info", "Basic LR model for iris data").await?;
    fluent::end_run(RunStatus::Finished).await?;

    let stored = fluent::get_run(run.id()).await?;
    let data = stored.data;
    let param_alpha = data.params.get("alpha").cloned().unwrap_or_default();
    let logged_acc = data.metrics.get("accuracy").map_or(f64::NAN, |m| m.value);
    let files = run.list_artifacts("", true).await?;
    println!("Tracking URI: {}", fluent::get_tracking_uri().await);
    println!("Run ID: {}", run.id());
    println!("Logged parameter alpha: {param_alpha}");
    println!("Logged metric accuracy: {logged_acc:.4}");
    println!(
        "Artifacts: {:?}",
        files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    Ok(())
}
