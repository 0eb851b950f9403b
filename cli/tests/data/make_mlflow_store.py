"""Makes an MLflow store with the stock `mlflow` package (the tracking URI is argv[1]: a
file store `file:///…` or `sqlite:///…`) and prints a JSON manifest of what it holds, read
back through MLflow's own client, for tests/import.rs to compare with trackd's copy."""

import json
import math
import os
import sys
import tempfile

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient()

mlflow.set_experiment("vision")
mlflow.set_experiment_tag("team", "cv")
work = tempfile.mkdtemp()
with open(os.path.join(work, "notes.txt"), "w") as f:
    f.write("hello from mlflow\n")

with mlflow.start_run(run_name="baseline") as parent:
    mlflow.log_params({"lr": 0.01, "optimizer": "adam"})
    mlflow.set_tag("stage", "dev")
    for step in range(1000):
        mlflow.log_metric("train/loss", 2.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
    mlflow.log_metric("odd", float("nan"), step=0)
    mlflow.log_metric("odd", float("inf"), step=1)
    mlflow.log_input(mlflow.data.from_numpy(np.arange(12), name="digits"), context="training")
    mlflow.log_artifact(os.path.join(work, "notes.txt"), "docs")
    with mlflow.start_run(run_name="child", nested=True):
        mlflow.log_metric("acc", 0.5, step=0)
with mlflow.start_run(run_name="failed-one") as failed:
    mlflow.log_param("lr", 0.1)
mlflow.end_run()
client.set_terminated(failed.info.run_id, "FAILED")
with mlflow.start_run(run_name="thrown-away") as gone:
    mlflow.log_metric("x", 1.0)
client.delete_run(gone.info.run_id)

old = client.create_experiment("old-project")
with mlflow.start_run(experiment_id=old, run_name="ancient"):
    mlflow.log_metric("y", 3.0, step=5)
client.delete_experiment(old)

manifest = {"experiments": {}, "runs": {}}
for e in client.search_experiments(view_type=3):
    manifest["experiments"][e.name] = {"deleted": e.lifecycle_stage == "deleted", "tags": {k: v for k, v in e.tags.items() if not k.startswith("mlflow.")}}
    for r in client.search_runs([e.experiment_id], run_view_type=3):
        histories = {}
        for key in r.data.metrics:
            points = client.get_metric_history(r.info.run_id, key)
            histories[key] = sorted(
                [p.step, p.timestamp, "NaN" if math.isnan(p.value) else ("Infinity" if p.value == math.inf else p.value)]
                for p in points)
        manifest["runs"][r.info.run_id] = {
            "experiment": e.name,
            "name": r.info.run_name,
            "status": r.info.status,
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
            "deleted": r.info.lifecycle_stage == "deleted",
            "params": r.data.params,
            "tags": r.data.tags,
            "metrics": histories,
            "datasets": [i.dataset.name for i in r.inputs.dataset_inputs],
        }
print("MANIFEST " + json.dumps(manifest))
