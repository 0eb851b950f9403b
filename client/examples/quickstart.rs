//! The MLflow logging tutorial in Rust: train a logistic regression on the iris data set
//! (shipped by the `smartcore` crate), log its params, its accuracy and the model (an MLflow
//! logged model with the serde flavor), then load it back typed by its `runs:/` URI and
//! predict with it.
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

    // Log the model (MLflow 3's log_model: a logged model with an MLmodel file)
    let logged = run
        .log_model("iris_model")
        .serde(&model)?
        .model_type("LogisticRegression")
        .log()
        .await?;
    fluent::set_tag("Training Info", "Basic LR model for iris data").await?;
    fluent::end_run(RunStatus::Finished).await?;

    // Load it back, typed, by the URI an MLflow user would write, and predict with it
    let dir = tempfile::tempdir()?;
    let loaded = fluent::load_model(&format!("runs:/{}/iris_model", run.id()), dir.path()).await?;
    let restored: LogisticRegression<f64, i32, DenseMatrix<f64>, Vec<i32>> = loaded.load_serde()?;
    assert_eq!(
        restored.predict(&x_test)?,
        y_pred,
        "the loaded model predicts the same"
    );

    let stored = fluent::get_run(run.id()).await?;
    let data = stored.data;
    let param_alpha = data.params.get("alpha").cloned().unwrap_or_default();
    let logged_acc = data.metrics.get("accuracy").map_or(f64::NAN, |m| m.value);
    println!("Tracking URI: {}", fluent::get_tracking_uri().await);
    println!("Run ID: {}", run.id());
    println!("Logged parameter alpha: {param_alpha}");
    println!("Logged metric accuracy: {logged_acc:.4}");
    println!(
        "Logged model: {} ({})",
        logged.model_uri(),
        logged.artifact_uri
    );
    println!(
        "Loaded it back from runs:/{}/iris_model: flavors {:?}, same predictions",
        run.id(),
        loaded.mlmodel.flavors.keys().collect::<Vec<_>>()
    );
    Ok(())
}
