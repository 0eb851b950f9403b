"""MLflow plugin: ``MLFLOW_TRACKING_URI=trackd://HOST:PORT`` makes unchanged MLflow code
stream its metrics.

- ``TrackdStore`` (entry point ``mlflow.tracking_store``, scheme ``trackd``) is MLflow's
  own ``RestStore`` against ``http://HOST:PORT`` except for metric writes: ``log_metric``
  and the metrics of ``log_batch`` go into trackd's buffered stream (the ``trackd``
  package's client) instead of one HTTP request each.
- Read-your-writes is kept: before any other request of the store (a read, a param, the end
  of a run), the stream is flushed, i.e. every point logged before is acknowledged
  durably. A point the server refuses (a run deleted meanwhile) raises at that flush.
- A run is checked once (exists, not deleted) before its first streamed point, so logging to
  an unknown or deleted run raises at once, as with MLflow's REST store.
- Metrics linked to a logged model or dataset (``model_id``, ``dataset_name``) keep MLflow's
  REST path, which carries those links.
- MLflow's fluent ``mlflow.log_metric`` builds two ``MlflowClient`` per call, and each
  probes for a Spark session with ``import pyspark``. Without pyspark installed that is a
  failed import, which Python does not cache: a search of ``sys.path`` costing ~50 µs, most
  of the call. When pyspark is not installed, the store records that in ``sys.modules``
  (``sys.modules["pyspark"] = None``, Python's own marker for "not importable"), which
  makes the fluent call ~3.5× faster. Set ``TRACKD_KEEP_PYSPARK_PROBE=1`` to leave the import
  system alone (e.g. a notebook that installs pyspark later in the same process).
- ``registry_store`` (``mlflow.model_registry_store``) is MLflow's REST registry store on the
  same server; ``ArtifactsRepository`` (``mlflow.artifact_repository``, scheme
  ``mlflow-artifacts``) resolves ``mlflow-artifacts:/`` against a ``trackd://`` tracking URI
  and is MLflow's own repository for every other tracking URI.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from functools import partial
from urllib.parse import urlparse

from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
from mlflow.store.tracking.rest_store import RestStore
from mlflow.tracking._tracking_service.utils import get_tracking_uri
from mlflow.utils.credentials import get_default_host_creds

import trackd
from trackd import _native

SCHEME = "trackd"


def http_uri(uri: str) -> str:
    """``trackd://HOST:PORT[/path]`` → ``http://HOST:PORT[/path]``; other URIs unchanged.
    (``trackd+https://`` → ``https://``.)"""
    parsed = urlparse(uri)
    if parsed.scheme == SCHEME:
        return parsed._replace(scheme="http").geturl()
    if parsed.scheme == SCHEME + "+https":
        return parsed._replace(scheme="https").geturl()
    return uri


def _mlflow_error(err: trackd.TrackdError) -> MlflowException:
    code = getattr(err, "error_code", "INTERNAL_ERROR")
    try:
        number = databricks_pb2.ErrorCode.Value(code)
    except ValueError:
        number = databricks_pb2.INTERNAL_ERROR
    return MlflowException(getattr(err, "message", str(err)), error_code=number)


class TrackdStore(RestStore):
    """MLflow's REST tracking store with metric writes on trackd's stream."""

    def __init__(self, store_uri: str, artifact_uri: str | None = None):
        self.http_uri = http_uri(store_uri)
        super().__init__(partial(get_default_host_creds, self.http_uri))
        self._lock = threading.Lock()
        self._dirty = False
        self._checked_runs: set[str] = set()
        if _native.get_tracking_uri() != self.http_uri:
            _native.set_tracking_uri(self.http_uri)
        _skip_missing_pyspark_probe()

    # --- the stream ---------------------------------------------------------------------

    def _flush(self) -> None:
        if not self._dirty:
            return
        with self._lock:
            self._dirty = False
        try:
            _native.flush()
        except trackd.TrackdError as e:
            raise _mlflow_error(e) from None

    def _check_run(self, run_id: str) -> None:
        if run_id in self._checked_runs:
            return
        run = super().get_run(run_id)  # raises RESOURCE_DOES_NOT_EXIST as MLflow does
        if run.info.lifecycle_stage == "deleted":
            raise MlflowException(
                f"The run {run_id} must be in the 'active' state. "
                "Current state is deleted.",
                error_code=databricks_pb2.INVALID_PARAMETER_VALUE,
            )
        self._checked_runs.add(run_id)

    def _stream(self, run_id: str, metrics) -> list:
        """Streams the metrics it can; returns those that need MLflow's REST path."""
        rest = [m for m in metrics if getattr(m, "model_id", None) or getattr(m, "dataset_name", None)]
        streamed = [m for m in metrics if m not in rest] if rest else metrics
        if not streamed:
            return rest
        self._check_run(run_id)
        try:
            for m in streamed:
                _native.log_metric(m.key, m.value, m.step, m.timestamp, run_id)
        except trackd.TrackdError as e:
            raise _mlflow_error(e) from None
        with self._lock:
            self._dirty = True
        return rest

    # --- MLflow's store API -----------------------------------------------------------

    def _call_endpoint(self, *args, **kwargs):
        # Every other request sees every point logged before it.
        self._flush()
        return super()._call_endpoint(*args, **kwargs)

    def log_metric(self, run_id, metric):
        rest = self._stream(run_id, [metric])
        if rest:
            super().log_metric(run_id, rest[0])

    def log_batch(self, run_id, metrics, params, tags):
        rest = self._stream(run_id, list(metrics))
        if rest or params or tags:
            super().log_batch(run_id, rest, params, tags)

    def flush(self) -> None:
        """Waits until every streamed point is acknowledged."""
        self._flush()


def _skip_missing_pyspark_probe() -> None:
    """Marks a missing pyspark as not importable (see the module docs)."""
    if os.environ.get("TRACKD_KEEP_PYSPARK_PROBE") == "1" or "pyspark" in sys.modules:
        return
    if importlib.util.find_spec("pyspark") is None:
        sys.modules["pyspark"] = None  # type: ignore[assignment]


def registry_store(store_uri: str, tracking_uri: str | None = None) -> RegistryRestStore:
    """MLflow's REST model-registry store on the trackd server of ``store_uri``."""
    return RegistryRestStore(partial(get_default_host_creds, http_uri(store_uri)))


class ArtifactsRepository(MlflowArtifactsRepository):
    """MLflow's ``mlflow-artifacts:`` repository, also under a ``trackd://`` tracking URI."""

    def __init__(self, artifact_uri, tracking_uri=None, registry_uri=None):
        super().__init__(
            artifact_uri,
            tracking_uri=http_uri(tracking_uri or get_tracking_uri()),
            registry_uri=registry_uri,
        )
