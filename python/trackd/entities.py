"""MLflow-shaped result classes: the same attribute names as ``mlflow.entities``, so code
written against MLflow's objects reads trackd's unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class RunInfo:
    """A run's metadata (``mlflow.entities.RunInfo``)."""

    run_id: str
    run_name: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    end_time: Optional[int]
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        """MLflow's older name of ``run_id``."""
        return self.run_id

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "RunInfo":
        return cls(**d)


@dataclass(frozen=True)
class RunData:
    """A run's latest metric values, params and tags (``mlflow.entities.RunData``)."""

    metrics: Dict[str, float] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    #: ``{key: (step, timestamp)}`` of each latest metric value.
    metric_steps: Dict[str, tuple] = field(default_factory=dict)

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "RunData":
        return cls(**d)


@dataclass(frozen=True)
class Run:
    """A run: ``info`` and ``data`` (``mlflow.entities.Run``)."""

    info: RunInfo
    data: RunData

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Run":
        return cls(RunInfo._from(d["info"]), RunData._from(d["data"]))


@dataclass(frozen=True)
class Experiment:
    """An experiment (``mlflow.entities.Experiment``)."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: Dict[str, str]

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Experiment":
        return cls(**d)


@dataclass(frozen=True)
class Metric:
    """One point of a series (``mlflow.entities.Metric``)."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class FileInfo:
    """An artifact listing entry (``mlflow.entities.FileInfo``)."""

    path: str
    is_dir: bool
    file_size: Optional[int]


class ActiveRun(Run):
    """The run ``start_run`` returned; a context manager that ends it: FINISHED, or FAILED
    when the block raised (as MLflow's ``ActiveRun``)."""

    def __enter__(self) -> "ActiveRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        from . import end_run

        end_run("FINISHED" if exc_type is None else "FAILED")
        return False


def _files(entries: List[Dict[str, Any]]) -> List[FileInfo]:
    return [FileInfo(**e) for e in entries]
