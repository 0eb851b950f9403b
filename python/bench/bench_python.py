"""Python trainers' logging rates against one trackd server, in one sitting.

    bash python/bench/run [--quick]

Starts a release `trackd server` on a temporary store (127.0.0.1, ephemeral port), then runs
each workload in a fresh Python process (its own client, its own tracking URI) and prints
points/s. Every workload ends with everything acknowledged (flush / end of run), so the
figures are for durable points. Slow paths log fewer points (their counts are printed):
10 M points through the stock client's one-request-per-point path would take hours.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

WORKLOADS = {
    # name: (points at full size, what it measures)
    "trackd.log_metric": (10_000_000, "trackd.log_metric per point, then flush"),
    "trackd.log_metric_series": (10_000_000, "trackd.log_metric_series(NumPy arrays), then flush"),
    "plugin mlflow.log_metric": (200_000, "unchanged mlflow.log_metric per point, trackd:// plugin"),
    "plugin MlflowClient.log_metric": (200_000, "MlflowClient().log_metric per point, trackd:// plugin"),
    "plugin store.log_metric": (1_000_000, "TrackdStore.log_metric(run_id, Metric) directly (no MLflow client layers)"),
    "stock mlflow.log_metric": (2_000, "stock client over REST, one request per point"),
    "stock log_batch(1000)": (200_000, "stock MlflowClient.log_batch of 1000 points per request"),
    "stock log_metric async": (5_000, "stock mlflow.log_metric(synchronous=False), then flush"),
}


def workload(name: str, points: int) -> float:
    """Runs one workload in this process; returns seconds."""
    if name == "trackd.log_metric":
        import trackd

        with trackd.start_run():
            log = trackd.log_metric
            t = time.perf_counter()
            for step in range(points):
                log("loss", 0.5, step=step)
            trackd.flush()
            return time.perf_counter() - t
    if name == "trackd.log_metric_series":
        import numpy as np
        import trackd

        with trackd.start_run():
            steps = np.arange(points, dtype=np.int64)
            values = np.random.default_rng(1).normal(1.0, 0.1, points)
            t = time.perf_counter()
            trackd.log_metric_series("loss", values, steps=steps)
            trackd.flush()
            return time.perf_counter() - t
    import mlflow
    from mlflow.entities import Metric

    if name in ("plugin mlflow.log_metric", "stock mlflow.log_metric"):
        with mlflow.start_run():
            t = time.perf_counter()
            for step in range(points):
                mlflow.log_metric("loss", 0.5, step=step)
            mlflow.flush_async_logging()
            _flush_plugin()
            return time.perf_counter() - t
    if name == "plugin MlflowClient.log_metric":
        client = mlflow.MlflowClient()
        run_id = client.create_run("0").info.run_id
        t = time.perf_counter()
        for step in range(points):
            client.log_metric(run_id, "loss", 0.5, step=step)
        _flush_plugin()
        return time.perf_counter() - t
    if name == "plugin store.log_metric":
        from mlflow.tracking._tracking_service.utils import _get_store

        store = _get_store()
        run_id = mlflow.MlflowClient().create_run("0").info.run_id
        now = int(time.time() * 1000)
        t = time.perf_counter()
        for step in range(points):
            store.log_metric(run_id, Metric("loss", 0.5, now, step))
        store.flush()
        return time.perf_counter() - t
    if name == "stock log_batch(1000)":
        client = mlflow.MlflowClient()
        run_id = client.create_run("0").info.run_id
        now = int(time.time() * 1000)
        t = time.perf_counter()
        for start in range(0, points, 1000):
            client.log_batch(run_id, metrics=[Metric("loss", 0.5, now, s) for s in range(start, start + 1000)])
        return time.perf_counter() - t
    if name == "stock log_metric async":
        with mlflow.start_run():
            t = time.perf_counter()
            for step in range(points):
                mlflow.log_metric("loss", 0.5, step=step, synchronous=False)
            mlflow.flush_async_logging()
            return time.perf_counter() - t
    raise SystemExit(f"unknown workload {name}")


def _flush_plugin() -> None:
    import mlflow
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    if hasattr(store, "flush"):
        store.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the points")
    parser.add_argument("--trackd", default="target/release/trackd", help="the server binary")
    parser.add_argument("--only", help="run only workloads whose name contains this")
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--points", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        print(workload(args.workload, args.points))
        return
    store = tempfile.mkdtemp(prefix="trackd-pybench-")
    server = subprocess.Popen(
        [args.trackd, "server", "--store", store, "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = server.stdout.readline().split("listening on ", 1)[1].split(" ", 1)[0]
        print(f"# trackd at {url}; python {sys.version.split()[0]}; store {store}")
        print(f"{'workload':34} {'points':>11} {'seconds':>9} {'points/s':>12}")
        for name, (full, what) in WORKLOADS.items():
            if args.only and args.only not in name:
                continue
            points = max(1_000, full // 10) if args.quick else full
            uri = url.replace("http://", "trackd://") if name.startswith("plugin") else url
            env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
            out = subprocess.run(
                [sys.executable, __file__, "--workload", name, "--points", str(points)],
                env=env, capture_output=True, text=True, timeout=1800,
            )
            if out.returncode != 0:
                print(f"{name:34} FAILED\n{out.stderr[-2000:]}")
                continue
            seconds = float(out.stdout.strip().splitlines()[-1])
            print(f"{name:34} {points:>11,} {seconds:>9.3f} {points / seconds:>12,.0f}   # {what}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
