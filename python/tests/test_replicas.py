"""Replicas on one PostgreSQL database (the cluster `.ci/run` starts and names in
TRACKD_TEST_POSTGRES): the package, given both addresses, logs on while one replica is
killed with SIGKILL mid-stream."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

import trackd
from conftest import Server


def fresh_database() -> str:
    cluster = os.environ.get("TRACKD_TEST_POSTGRES")
    if not cluster:
        if os.environ.get("TRACKD_TEST_TOOLS"):
            pytest.fail("TRACKD_TEST_POSTGRES is required (.ci/run sets it)")
        pytest.skip("no PostgreSQL (TRACKD_TEST_POSTGRES); run `bash .ci/run`")
    port = cluster.rsplit(":", 1)[1].split("/", 1)[0]
    name = f"py_{uuid.uuid4().hex}"
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", port, "-U", "trackd", "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"],
        check=True, capture_output=True,
    )
    return cluster.rsplit("/", 1)[0] + "/" + name


def test_logging_goes_on_when_a_replica_is_killed(tmp_path):
    database = fresh_database()
    a = Server(tmp_path / "a", args=["--backend-store-uri", database]).start()
    b = Server(tmp_path / "b", args=["--backend-store-uri", database]).start()
    try:
        trackd.set_tracking_uri(f"{a.url},{b.url}")
        with trackd.start_run() as run:
            for step in range(100_000):
                trackd.log_metric("x", float(step), step=step)
            a.kill()  # the current replica dies with points in flight
            for step in range(100_000, 200_000):
                trackd.log_metric("x", float(step), step=step)
            trackd.log_param("after", "failover")  # a unary call, sent to B
        import mlflow

        history = mlflow.MlflowClient(b.url).get_metric_history(run.info.run_id, "x")
        assert [m.step for m in history] == list(range(200_000))
        assert mlflow.MlflowClient(b.url).get_run(run.info.run_id).data.params == {"after": "failover"}
        assert trackd.ingest_stats()["connections"] >= 2
    finally:
        a.stop()
        b.stop()
