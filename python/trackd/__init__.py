"""trackd: MLflow-shaped experiment tracking over trackd's streaming client.

``log_metric`` appends to a buffer in the Rust client and returns (about a microsecond);
a background thread streams the points in batches and the server acknowledges them once
durable. ``flush()``, ``end_run()`` and leaving a ``with start_run():`` block wait for
those acknowledgements. Everything that waits releases the GIL.

The tracking URI is ``set_tracking_uri`` → ``MLFLOW_TRACKING_URI`` → ``./mlruns``:
``http://HOST:PORT`` is a trackd server, a directory an embedded store (one process).
The active-run stack is process-wide (shared by threads); a ``fork`` child keeps it and
gets its own connection, so multiprocessing workers log into the run active at the fork.

    import trackd
    trackd.set_experiment("mnist")
    with trackd.start_run(run_name="baseline"):
        trackd.log_param("lr", 0.01)
        for step in range(1000):
            trackd.log_metric("loss", 1.0 / (step + 1), step=step)
"""

from __future__ import annotations

import array
import atexit
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _native
from ._native import (  # noqa: F401  (re-exported API)
    TrackdError,
    create_experiment,
    delete_tag,
    flush,
    get_tracking_uri,
    last_active_run_id,
    log_artifact,
    log_artifacts,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
    set_tracking_uri,
)
from .entities import (
    ActiveRun,
    Experiment,
    FileInfo,
    Metric,
    Run,
    RunData,
    RunInfo,
    _files,
)

__all__ = [
    "ActiveRun", "Experiment", "FileInfo", "Metric", "Run", "RunData", "RunInfo",
    "TrackdError", "active_run", "create_experiment", "delete_tag", "download_artifacts",
    "end_run", "flush", "get_experiment", "get_experiment_by_name", "get_metric_columns",
    "get_metric_history", "get_run", "get_tracking_uri", "ingest_stats",
    "last_active_run_id", "list_artifacts", "log_artifact", "log_artifacts", "log_metric",
    "log_metric_series", "log_metrics", "log_param", "log_params", "search_runs",
    "set_experiment", "set_tag", "set_tags", "set_tracking_uri", "start_run",
]

#: MLflow's tag for a run's description.
_NOTE_TAG = "mlflow.note.content"


def start_run(
    run_id: Optional[str] = None,
    experiment_id: Optional[str] = None,
    run_name: Optional[str] = None,
    nested: bool = False,
    tags: Optional[Dict[str, Any]] = None,
    description: Optional[str] = None,
) -> ActiveRun:
    """Starts a run (or resumes ``run_id``; ``MLFLOW_RUN_ID`` is used once) and makes it
    the active run. With a run active, only ``nested=True`` starts another (its child)."""
    tags = dict(tags or {})
    if description is not None:
        tags[_NOTE_TAG] = description
    info = _native.start_run(run_id, experiment_id, run_name, nested, tags or None)
    return ActiveRun(RunInfo._from(info), RunData(tags={k: str(v) for k, v in tags.items()}))


def end_run(status: str = "FINISHED") -> None:
    """Ends the active run after its points are acknowledged (no-op if none is active)."""
    _native.end_run(status)


def active_run() -> Optional[ActiveRun]:
    """The innermost active run, or ``None``."""
    info = _native.active_run()
    return None if info is None else ActiveRun(RunInfo._from(info), RunData())


def set_experiment(
    experiment_name: Optional[str] = None, experiment_id: Optional[str] = None
) -> Experiment:
    """Makes an experiment active for new runs: by name (created if missing) or by id."""
    return Experiment._from(_native.set_experiment(experiment_name, experiment_id))


def get_experiment(experiment_id: str) -> Experiment:
    """An experiment by id."""
    return Experiment._from(_native.get_experiment(experiment_id))


def get_experiment_by_name(name: str) -> Optional[Experiment]:
    """An experiment by name, or ``None``."""
    found = _native.get_experiment_by_name(name)
    return None if found is None else Experiment._from(found)


def get_run(run_id: str) -> Run:
    """A run with its latest metrics, params and tags."""
    return Run._from(_native.get_run(run_id))


def search_runs(
    experiment_ids: Optional[Sequence[str]] = None,
    filter_string: str = "",
    order_by: Optional[Sequence[str]] = None,
    max_results: Optional[int] = None,
    run_view_type: str = "ACTIVE_ONLY",
) -> List[Run]:
    """Runs matching MLflow's filter grammar, as a list of ``Run`` (default experiment: the
    active one; no ``max_results``: every match)."""
    ids = None if experiment_ids is None else [str(e) for e in experiment_ids]
    found = _native.search_runs(
        ids, filter_string, None if order_by is None else list(order_by), max_results,
        run_view_type,
    )
    return [Run._from(r) for r in found]


def _numpy():
    return sys.modules.get("numpy")


def _column(data: Any, typecode: str, name: str) -> bytes:
    """Little-endian bytes of a column: a NumPy array (or anything with ``__array__``,
    such as a CPU tensor) or any sequence of numbers."""
    np = _numpy()
    if np is not None and (isinstance(data, np.ndarray) or hasattr(data, "__array__")):
        dtype = "<f8" if typecode == "d" else "<i8"
        try:
            return np.ascontiguousarray(data, dtype=dtype).tobytes()
        except (TypeError, ValueError) as e:
            raise TrackdError(f"{name}: {e}") from None
    try:
        column = array.array(typecode, data)
    except (TypeError, OverflowError) as e:
        raise TrackdError(f"{name}: every element must be a number ({e})") from None
    if sys.byteorder != "little":
        column.byteswap()
    return column.tobytes()


def log_metric_series(
    key: str,
    values: Any,
    steps: Any = None,
    timestamps: Any = None,
    run_id: Optional[str] = None,
    synchronous: Optional[bool] = None,
) -> None:
    """Logs a whole series of ``key`` in one call: ``values`` (NumPy array or sequence),
    ``steps`` (default ``0..n-1``) and ``timestamps`` in ms (default: now). The columns
    go to the stream without a Python object per point."""
    values_b = _column(values, "d", "values")
    n = len(values_b) // 8
    steps_b = _column(range(n) if steps is None else steps, "q", "steps")
    ts_b = None if timestamps is None else _column(timestamps, "q", "timestamps")
    if len(steps_b) != len(values_b) or (ts_b is not None and len(ts_b) != len(values_b)):
        raise TrackdError(
            f"log_metric_series('{key}'): steps, values and timestamps must have one length"
        )
    _native.log_metric_series_bytes(key, steps_b, values_b, ts_b, run_id, synchronous)


def get_metric_columns(run_id: str, key: str) -> Tuple[Any, Any, Any]:
    """A whole series as three columns ``(steps, timestamps, values)``: NumPy arrays when
    NumPy is imported, else ``array.array``."""
    cols = _native.metric_history_columns(run_id, key)
    np = _numpy()
    if np is not None:
        return (
            np.frombuffer(cols["steps"], dtype="<i8"),
            np.frombuffer(cols["timestamps"], dtype="<i8"),
            np.frombuffer(cols["values"], dtype="<f8"),
        )
    out = []
    for name, code in (("steps", "q"), ("timestamps", "q"), ("values", "d")):
        column = array.array(code)
        column.frombytes(cols[name])
        if sys.byteorder != "little":
            column.byteswap()
        out.append(column)
    return tuple(out)


def get_metric_history(run_id: str, key: str) -> List[Metric]:
    """Every point of a series, in step order (``MlflowClient.get_metric_history``)."""
    steps, timestamps, values = get_metric_columns(run_id, key)
    return [
        Metric(key, float(v), int(t), int(s)) for s, t, v in zip(steps, timestamps, values)
    ]


def list_artifacts(run_id: str, path: Optional[str] = None) -> List[FileInfo]:
    """A run's artifacts directly under ``path``."""
    return _files(_native.list_artifacts(run_id, path))


def download_artifacts(run_id: str, artifact_path: str, dst_path: Optional[str] = None) -> str:
    """Downloads a run's artifact file or directory; returns the local path."""
    dst = dst_path or tempfile.mkdtemp(prefix="trackd-")
    return str(_native.download_artifacts(run_id, artifact_path, dst))


def ingest_stats() -> Dict[str, int]:
    """Counters of metric delivery: batches sent and re-sent, points acknowledged, streams
    opened, waits for buffer room."""
    return _native.ingest_stats()


def _at_exit() -> None:
    # As MLflow: active runs end FINISHED at exit, after their points are acknowledged.
    try:
        _native._shutdown()
    except TrackdError as e:  # pragma: no cover - reported, not raised, at exit
        print(f"trackd: at exit: {e}", file=sys.stderr)


os.register_at_fork(after_in_child=_native._after_fork_in_child)
atexit.register(_at_exit)
