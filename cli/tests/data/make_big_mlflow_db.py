"""Makes a large MLflow SQLite database for the import benchmark (BENCHMARKS.md): MLflow
itself creates the schema (its migrations), then rows go in with sqlite3 in bulk, in
MLflow's own layout (logging 10 M points through MLflow's client would take hours).

usage: make_big_mlflow_db.py PATH.db [RUNS] [POINTS_PER_RUN]   (default 1000 × 10,000)
"""

import math
import os
import sqlite3
import sys
import uuid

import mlflow

path = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
per_run = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
keys = ["loss", "accuracy", "lr", "grad_norm"]

mlflow.set_tracking_uri(f"sqlite:///{path}")
exp = mlflow.create_experiment("bench-import")

db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
db.execute("PRAGMA journal_mode = MEMORY")
t0 = 1_700_000_000_000
for r in range(runs):
    run = uuid.uuid4().hex
    db.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
        "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
        "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', '', ?)",
        (run, f"run-{r:04d}", t0 + r * 1000, t0 + r * 1000 + 60_000, int(exp)))
    db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                   [(f"p{i}", str(r % (i + 2)), run) for i in range(10)])
    db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                   [("mlflow.runName", f"run-{r:04d}", run), ("team", f"t{r % 5}", run)])
    rows = []
    for s in range(per_run):
        k = keys[s % len(keys)]
        step = s // len(keys)
        v = math.exp(-step / 1000.0) + (s * 7919 % 1000) * 1e-4
        rows.append((k, v, t0 + s, run, step, 0))
    db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", rows)
    if r % 50 == 49:
        db.commit()
db.commit()
print(f"{path}: {runs} runs, {runs * per_run} metric points")
