"""Processes: fork safety, multiprocessing into one shared run, and a server killed with
SIGKILL mid-stream."""

from __future__ import annotations

import multiprocessing as mp
import os

import trackd
from conftest import Server, free_port


def _worker(rank: int, points: int) -> str:
    # A forked child: the parent's active run is active here, on the child's own connection.
    shared = trackd.active_run().info.run_id
    for step in range(points):
        trackd.log_metric(f"rank{rank}", float(step), step=step)
    with trackd.start_run(run_name=f"rank-{rank}", nested=True) as own:
        trackd.log_metric_series("own", [float(rank)] * points)
    trackd.flush()
    return f"{shared} {own.info.run_id}"


def test_forked_workers_stream_into_a_shared_run_and_their_own(server, mlflow_client):
    ctx = mp.get_context("fork")
    with trackd.start_run() as parent:
        # Points buffered (not flushed) when the workers fork: sent once, by the parent.
        for step in range(1_000):
            trackd.log_metric("parent", float(step), step=step)
        with ctx.Pool(3) as pool:
            answers = pool.starmap(_worker, [(r, 5_000) for r in range(3)])
        for step in range(1_000, 2_000):
            trackd.log_metric("parent", float(step), step=step)
    shared_ids = {a.split()[0] for a in answers}
    assert shared_ids == {parent.info.run_id}
    assert [m.step for m in mlflow_client.get_metric_history(parent.info.run_id, "parent")] == list(range(2_000))
    for r in range(3):
        history = mlflow_client.get_metric_history(parent.info.run_id, f"rank{r}")
        assert [m.step for m in history] == list(range(5_000)), r
    for r, answer in enumerate(answers):
        own = answer.split()[1]
        run = mlflow_client.get_run(own)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert len(mlflow_client.get_metric_history(own, "own")) == 5_000


def test_forked_child_without_flush_does_not_resend_the_parents_points(server, mlflow_client):
    with trackd.start_run() as run:
        trackd.log_metric("k", 1.0, step=1)  # buffered in the parent at fork time
        pid = os.fork()
        if pid == 0:  # the child logs its own point and exits through flush
            try:
                trackd.log_metric("k", 2.0, step=2)
                trackd.flush()
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0
    assert [(m.step, m.value) for m in mlflow_client.get_metric_history(run.info.run_id, "k")] == [
        (1, 1.0), (2, 2.0)]


def test_sigkill_mid_stream_loses_no_acknowledged_point(tmp_path, mlflow_client):
    # Acknowledged points survive a SIGKILL of the server and are stored once, whatever
    # was in flight; points logged while it was down are delivered after it restarts.
    srv = Server(tmp_path / "killed", port=free_port()).start()
    try:
        trackd.set_tracking_uri(srv.url)
        with trackd.start_run() as run:
            for step in range(100_000):
                trackd.log_metric("x", float(step), step=step)
            trackd.flush()  # 0..99,999 acknowledged
            for step in range(100_000, 200_000):
                trackd.log_metric("x", float(step), step=step)
            srv.kill()  # some of these may be in flight, none acknowledged yet
            for step in range(200_000, 210_000):
                trackd.log_metric("x", float(step), step=step)
            srv.start()  # same store, same port: the client reconnects and re-sends
            trackd.flush()
        import mlflow

        steps = [m.step for m in mlflow.MlflowClient(srv.url).get_metric_history(run.info.run_id, "x")]
        assert steps == list(range(210_000)), (len(steps), len(set(steps)))
        assert trackd.ingest_stats()["connections"] >= 2
    finally:
        srv.stop()
