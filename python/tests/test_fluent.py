"""Every fluent call against a real server, read back with the stock `mlflow` client."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

import trackd


def test_fluent_calls_read_back_with_stock_mlflow(server, mlflow_client, tmp_path):
    exp = trackd.set_experiment("py-fluent")
    assert trackd.set_experiment("py-fluent").experiment_id == exp.experiment_id
    assert trackd.get_experiment_by_name("py-fluent").experiment_id == exp.experiment_id
    assert trackd.get_experiment_by_name("absent") is None
    (tmp_path / "model.txt").write_text("weights")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("A")
    (tree / "sub" / "b.txt").write_text("B")

    with trackd.start_run(run_name="parent", tags={"team": "vision"}, description="notes") as run:
        run_id = run.info.run_id
        assert run.info.experiment_id == exp.experiment_id
        assert trackd.active_run().info.run_id == run_id
        assert trackd.log_param("lr", 0.01) == 0.01
        trackd.log_params({"layers": 3, "act": "relu"})
        for step in range(5):
            trackd.log_metric("loss", 1.0 / (step + 1), step=step)
        trackd.log_metric("at", 7.5, step=3, timestamp=1_700_000_000_123)
        trackd.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        trackd.log_metric("sync", 1.0, synchronous=True)
        # synchronous=True: durable on return, readable at once.
        assert [m.value for m in mlflow_client.get_metric_history(run_id, "sync")] == [1.0]
        trackd.set_tag("release", "v1")
        trackd.set_tags({"a": 1, "b": "2"})
        trackd.set_tag("gone", "x")
        trackd.delete_tag("gone")
        trackd.log_artifact(str(tmp_path / "model.txt"), "files")
        trackd.log_artifacts(str(tree), "tree")
        trackd.log_metric_series("series_np", np.linspace(0.0, 1.0, 1000))
        trackd.log_metric_series("series_list", [3.0, 2.0, 1.0], steps=[10, 20, 30],
                                 timestamps=[1, 2, 3])
        with trackd.start_run(run_name="child", nested=True) as child:
            child_id = child.info.run_id
            trackd.log_metric("child_metric", 3.0)
        assert trackd.active_run().info.run_id == run_id
    assert trackd.active_run() is None
    assert trackd.last_active_run_id() == child_id or trackd.last_active_run_id() == run_id

    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "parent"
    assert got.data.params == {"lr": "0.01", "layers": "3", "act": "relu"}
    assert got.data.metrics["loss"] == 0.2 and got.data.metrics["acc"] == 0.9
    assert got.data.tags["team"] == "vision" and got.data.tags["a"] == "1"
    assert got.data.tags["release"] == "v1" and "gone" not in got.data.tags
    assert got.data.tags["mlflow.note.content"] == "notes"
    loss = mlflow_client.get_metric_history(run_id, "loss")
    assert [(m.step, round(m.value, 4)) for m in loss] == [
        (0, 1.0), (1, 0.5), (2, 0.3333), (3, 0.25), (4, 0.2)]
    [at] = mlflow_client.get_metric_history(run_id, "at")
    assert (at.step, at.timestamp, at.value) == (3, 1_700_000_000_123, 7.5)
    series = mlflow_client.get_metric_history(run_id, "series_np")
    assert [m.step for m in series] == list(range(1000))
    assert series[0].value == 0.0 and series[-1].value == 1.0
    assert [(m.step, m.timestamp, m.value) for m in
            mlflow_client.get_metric_history(run_id, "series_list")] == [
        (10, 1, 3.0), (20, 2, 2.0), (30, 3, 1.0)]
    child_run = mlflow_client.get_run(child_id)
    assert child_run.data.tags["mlflow.parentRunId"] == run_id
    assert child_run.data.metrics["child_metric"] == 3.0
    assert sorted(f.path for f in mlflow_client.list_artifacts(run_id)) == ["files", "tree"]
    local = mlflow_client.download_artifacts(run_id, "tree/sub/b.txt", str(tmp_path))
    assert open(local).read() == "B"

    # trackd's own readers agree with MLflow's.
    mine = trackd.get_run(run_id)
    assert mine.data.params == got.data.params and mine.data.metrics == got.data.metrics
    steps, timestamps, values = trackd.get_metric_columns(run_id, "series_np")
    assert isinstance(values, np.ndarray) and len(values) == 1000 and values[-1] == 1.0
    assert [m.value for m in trackd.get_metric_history(run_id, "loss")] == [m.value for m in loss]
    assert sorted(f.path for f in trackd.list_artifacts(run_id, "tree")) == ["tree/a.txt", "tree/sub"]
    dst = trackd.download_artifacts(run_id, "files/model.txt", str(tmp_path / "dl"))
    assert open(dst).read() == "weights"
    found = trackd.search_runs(filter_string="params.act = 'relu' AND metrics.acc > 0.5")
    assert [r.info.run_id for r in found] == [run_id]
    assert {r.info.run_id for r in trackd.search_runs([exp.experiment_id])} == {run_id, child_id}
    assert len(trackd.search_runs(order_by=["attributes.start_time DESC"], max_results=1)) == 1


def test_resume_and_failed_status(server, mlflow_client):
    with trackd.start_run() as run:
        trackd.log_metric("m", 1.0, step=0)
    with trackd.start_run(run_id=run.info.run_id):
        trackd.log_metric("m", 2.0, step=1)
    assert [m.value for m in mlflow_client.get_metric_history(run.info.run_id, "m")] == [1.0, 2.0]
    with pytest.raises(ZeroDivisionError):
        with trackd.start_run() as failing:
            1 / 0
    assert mlflow_client.get_run(failing.info.run_id).info.status == "FAILED"
    # A second top-level run while one is active is refused, as in MLflow.
    with trackd.start_run():
        with pytest.raises(trackd.TrackdError, match="already active"):
            trackd.start_run()


def test_log_metric_without_a_run_starts_one(server, mlflow_client):
    trackd.log_metric("auto", 1.5)
    run = trackd.active_run()
    assert run is not None
    trackd.end_run()
    assert mlflow_client.get_run(run.info.run_id).data.metrics == {"auto": 1.5}


def test_embedded_store(tmp_path):
    trackd.set_tracking_uri(str(tmp_path / "mlruns"))
    try:
        with trackd.start_run() as run:
            trackd.log_param("p", "v")
            trackd.log_metric_series("x", np.arange(10_000, dtype=np.float64))
        got = trackd.get_run(run.info.run_id)
        assert got.data.params == {"p": "v"} and got.data.metrics == {"x": 9999.0}
        steps, _, values = trackd.get_metric_columns(run.info.run_id, "x")
        assert list(steps[:3]) == [0, 1, 2] and float(values.sum()) == sum(range(10_000))
    finally:
        trackd.set_tracking_uri("http://127.0.0.1:1")  # closes the embedded store


def test_bad_input_raises_clear_errors_and_loses_nothing(server, mlflow_client):
    with trackd.start_run() as run:
        run_id = run.info.run_id
        trackd.log_metric("v", float("nan"), step=0)
        trackd.log_metric("v", float("inf"), step=1)
        trackd.log_metric("v", -math.inf, step=2)
        trackd.log_metric("v", np.float32(0.5), step=3)
        with pytest.raises(trackd.TrackdError) as bad_type:
            trackd.log_metric("v", "abc", step=4)
        assert bad_type.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(TypeError):
            trackd.log_metric("v", 1.0, step="four")
        trackd.log_param("lr", 0.1)
        with pytest.raises(trackd.TrackdError) as changed:
            trackd.log_param("lr", 0.2)
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Changing param values is not allowed" in changed.value.message
        with pytest.raises(trackd.TrackdError) as bad_series:
            trackd.log_metric_series("s", [1.0, 2.0], steps=[1])
        assert "one length" in str(bad_series.value)
        with pytest.raises(trackd.TrackdError):
            trackd.log_metric_series("s", ["x"])
        with pytest.raises(trackd.TrackdError):
            trackd.end_run("DONE")
    values = [m.value for m in mlflow_client.get_metric_history(run_id, "v")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.5]
    assert mlflow_client.get_run(run_id).data.params == {"lr": "0.1"}

    with pytest.raises(trackd.TrackdError) as unknown:
        trackd.get_run("0123456789abcdef0123456789abcdef")
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # A deleted run refuses points: the refusal comes back (at the latest at flush) and
    # the other run's points are all there.
    doomed = mlflow_client.create_run("0").info.run_id
    mlflow_client.delete_run(doomed)
    with trackd.start_run() as keeper:
        with pytest.raises(trackd.TrackdError) as refused:
            trackd.log_metric("x", 1.0, run_id=doomed, synchronous=True)
        assert refused.value.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
        for i in range(100):
            trackd.log_metric("kept", float(i), step=i)
    assert len(mlflow_client.get_metric_history(keeper.info.run_id, "kept")) == 100


def test_logging_thread_progresses_while_another_holds_the_gil(server, mlflow_client):
    stop = threading.Event()

    def spin():
        n = 0
        while not stop.is_set():  # pure Python: holds the GIL but for the switch interval
            n += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        with trackd.start_run() as run:
            for step in range(50_000):
                trackd.log_metric("busy", float(step), step=step)
            trackd.flush()
    finally:
        stop.set()
        spinner.join()
    assert len(mlflow_client.get_metric_history(run.info.run_id, "busy")) == 50_000


def test_threads_share_the_active_run(server, mlflow_client):
    with trackd.start_run() as run:
        def worker(rank):
            for step in range(2_000):
                trackd.log_metric(f"rank{rank}", float(step), step=step)

        threads = [threading.Thread(target=worker, args=(r,)) for r in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for r in range(4):
        history = mlflow_client.get_metric_history(run.info.run_id, f"rank{r}")
        assert [m.step for m in history] == list(range(2_000))
