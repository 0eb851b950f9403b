//! The one-command demo: a trackd server on 127.0.0.1:5000 over `./mlruns` (the defaults of
//! `trackd server`), plus a demo run logged to it through the gRPC client. The server keeps
//! serving until Ctrl-C, so you can look at the run with grpcurl or another client.
//!
//! ```text
//! cargo run --release -p trackd-client --example demo
//! ```

use std::net::SocketAddr;

use trackd_client::Client;
use trackd_server::StoreConfig;
use trackd_server::server::{ServeOptions, ServerHandle};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    trackd_server::telemetry::init();
    let addr: SocketAddr = std::env::var("TRACKD_DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:5000".into())
        .parse()?;
    let store = std::env::var("TRACKD_STORE").unwrap_or_else(|_| "./mlruns".into());
    let server =
        ServerHandle::start(addr, StoreConfig::new(&store), ServeOptions::default()).await?;
    println!("trackd serving on {} (store {store})", server.url());

    let client = Client::connect(&server.url()).await?;
    let experiment = client.get_or_create_experiment("demo").await?;
    let run = client
        .start_run()
        .experiment_id(&experiment)
        .run_name("demo-run")
        .start()
        .await?;
    run.log_params([("optimizer", "sgd"), ("lr", "0.05"), ("epochs", "20")])
        .await?;
    for epoch in 0..20i64 {
        for batch in 0..500i64 {
            let step = epoch * 500 + batch;
            let loss = 2.0 * (-(step as f64) / 3000.0).exp() + 0.05 * ((step % 37) as f64 / 37.0);
            run.log_metric("train/loss", loss, step).await?;
        }
        run.log_metric(
            "val/accuracy",
            1.0 - 0.6 * (-(epoch as f64) / 5.0).exp(),
            epoch,
        )
        .await?;
    }
    let notes = std::env::temp_dir().join("trackd-demo-notes.txt");
    std::fs::write(&notes, "a demo run logged by trackd's demo example\n")?;
    run.log_artifact(&notes, Some("notes")).await?;
    let run_id = run.id().to_owned();
    run.finish().await?;

    let stored = client.get_run(&run_id).await?;
    let data = stored.data;
    println!("demo run {run_id} in experiment {experiment}:");
    for (key, m) in &data.metrics {
        println!("  latest {key} = {:.4} (step {})", m.value, m.step);
    }
    println!(
        "  {} points of train/loss stored",
        client.metric_history(&run_id, "train/loss").await?.len()
    );
    println!();
    println!("Look at it in a browser: {}/runs/{run_id}", server.url());
    println!("  (all experiments: {}/)", server.url());
    println!("or from another shell:");
    println!("  grpcurl -plaintext {} list", server.addr());
    println!(
        "  grpcurl -plaintext -d '{{\"run_id\": \"{run_id}\"}}' {} trackd.v1.TrackingService/GetRun",
        server.addr()
    );
    println!("Ctrl-C stops the server.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await?;
    Ok(())
}
