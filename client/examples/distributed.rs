//! Distributed training, simulated: N ranks (tasks, each with its own client, as separate
//! processes would have) stream metrics concurrently into one shared run, and each rank
//! also into its own child run.
//!
//! ```text
//! cargo run --release -p trackd-client --example distributed -- [RANKS] [STEPS]
//! ```
//! Uses `MLFLOW_TRACKING_URI` (a server URL, or a directory for embedded mode).

use std::time::Instant;

use trackd_client::{Client, RunStatus};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ranks: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let steps: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);

    let client = Client::from_env().await?;
    let experiment = client.get_or_create_experiment("distributed").await?;
    let shared = client
        .start_run()
        .experiment_id(&experiment)
        .run_name(format!("ddp-{ranks}-ranks"))
        .start()
        .await?;
    shared
        .log_params([
            ("world_size", ranks.to_string()),
            ("steps", steps.to_string()),
        ])
        .await?;
    let shared_id = shared.id().to_owned();

    let started = Instant::now();
    let mut workers = Vec::new();
    for rank in 0..ranks {
        // Each rank connects on its own, as a separate process would (MLFLOW_RUN_ID style).
        let uri = client.tracking_uri().to_owned();
        let shared_id = shared_id.clone();
        workers.push(tokio::spawn(async move {
            let client = Client::connect(&uri).await?;
            let shared = client.attach(&shared_id).await?;
            let own = shared
                .start_child()
                .run_name(format!("rank-{rank}"))
                .tag("rank", rank)
                .start()
                .await?;
            for step in 0..steps {
                let loss = 1.0 / (1.0 + step as f64 * 1e-3) + rank as f64 * 1e-3;
                own.log_metrics(
                    &[("loss", loss), ("throughput", 1000.0 + rank as f64)],
                    step,
                )
                .await?;
                shared
                    .log_metric(&format!("loss/rank{rank}"), loss, step)
                    .await?;
            }
            own.finish().await?;
            shared.flush().await?; // the coordinator ends the shared run
            Ok::<_, trackd_client::ClientError>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    shared.end(RunStatus::Finished).await?;
    let seconds = started.elapsed().as_secs_f64();
    let points = ranks as f64 * steps as f64 * 3.0;
    let children = client
        .search_runs()
        .experiments([&experiment])
        .all()
        .await?
        .len();
    println!(
        "{ranks} ranks x {steps} steps: {points:.0} points in {seconds:.2} s ({:.0} points/s)",
        points / seconds
    );
    println!("shared run {shared_id}; {children} runs in experiment {experiment}");
    Ok(())
}
