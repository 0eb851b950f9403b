//! `trackd experiments list|create|rename|delete|restore`.

use clap::Subcommand;
use serde_json::json;
use trackd_client::Experiment;

use crate::exit::Outcome;
use crate::output::{self, Table, Tone};
use crate::target::{self, Target};

/// Experiment commands.
#[derive(Debug, Subcommand)]
pub enum ExperimentsCommand {
    /// List experiments (newest first).
    List {
        /// Only experiments matching this filter (`name LIKE 'sweep-%'`, `tags.team = 'x'`).
        #[arg(long, default_value = "")]
        filter: String,
        /// Also deleted experiments.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Create an experiment; prints its id.
    Create {
        /// Its name (unique).
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Rename an experiment.
    Rename {
        /// Id or current name.
        experiment: String,
        /// The new name.
        new_name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete an experiment and its runs (restorable).
    Delete {
        /// Id or name.
        experiment: String,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a deleted experiment and its runs.
    Restore {
        /// Id or name.
        experiment: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs an experiment command.
pub async fn run(command: ExperimentsCommand) -> Outcome {
    match command {
        ExperimentsCommand::List {
            filter,
            all,
            target,
        } => {
            let client = target.connect().await?;
            let view = if all {
                trackd_client::RunView::All
            } else {
                trackd_client::RunView::ActiveOnly
            };
            let found = client.search_experiments_in(&filter, view).await?;
            print_list(&target, &found)?;
        }
        ExperimentsCommand::Create { name, target } => {
            let client = target.connect().await?;
            let id = client.create_experiment(&name).await?;
            println!("{id}");
        }
        ExperimentsCommand::Rename {
            experiment,
            new_name,
            target,
        } => {
            let client = target.connect().await?;
            let e = target::experiment(&client, &experiment).await?;
            client
                .rename_experiment(&e.experiment_id, &new_name)
                .await?;
            eprintln!("renamed experiment {} to '{new_name}'", e.experiment_id);
        }
        ExperimentsCommand::Delete { experiment, target } => {
            let client = target.connect().await?;
            let e = target::experiment(&client, &experiment).await?;
            client.delete_experiment(&e.experiment_id).await?;
            eprintln!("deleted experiment {} ('{}')", e.experiment_id, e.name);
        }
        ExperimentsCommand::Restore { experiment, target } => {
            let client = target.connect().await?;
            let e = target::experiment(&client, &experiment).await?;
            client.restore_experiment(&e.experiment_id).await?;
            eprintln!("restored experiment {} ('{}')", e.experiment_id, e.name);
        }
    }
    Ok(())
}

fn print_list(target: &Target, found: &[Experiment]) -> std::io::Result<()> {
    let mut table = Table::new(["id", "name", "lifecycle", "created", "last update"]);
    for e in found {
        let stage = if e.deleted { "deleted" } else { "active" };
        table.toned_row(vec![
            (e.experiment_id.clone(), Tone::Plain),
            (e.name.clone(), Tone::Plain),
            (
                stage.into(),
                if e.deleted { Tone::Dim } else { Tone::Plain },
            ),
            (output::time(Some(e.creation_time)), Tone::Plain),
            (output::time(Some(e.last_update_time)), Tone::Plain),
        ]);
    }
    let json = json!(found
        .iter()
        .map(|e| json!({
            "experiment_id": e.experiment_id,
            "name": e.name,
            "lifecycle_stage": if e.deleted { "deleted" } else { "active" },
            "artifact_location": e.artifact_location,
            "creation_time": e.creation_time,
            "last_update_time": e.last_update_time,
            "tags": e.tags,
        }))
        .collect::<Vec<_>>());
    output::print(target.format(), &table, json)
}
