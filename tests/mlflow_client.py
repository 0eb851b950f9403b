"""The stock Python `mlflow` client against a running trackd (MLFLOW_TRACKING_URI).

Run by tests/mlflow_python.rs. Every value read back is asserted.
"""
import json
import os
import tempfile
import time

import mlflow
from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Param,
    RunTag,
)
from mlflow.models import Model
from mlflow.exceptions import MlflowException

uri = os.environ["MLFLOW_TRACKING_URI"]
mlflow.set_tracking_uri(uri)
client = MlflowClient()

exp_id = mlflow.set_experiment("py-compat").experiment_id
assert mlflow.set_experiment("py-compat").experiment_id == exp_id

workdir = tempfile.mkdtemp()
model = os.path.join(workdir, "model.txt")
with open(model, "w") as f:
    f.write("weights")
tree = os.path.join(workdir, "tree")
os.makedirs(os.path.join(tree, "sub"))
with open(os.path.join(tree, "a.txt"), "w") as f:
    f.write("A")
with open(os.path.join(tree, "sub", "b.txt"), "w") as f:
    f.write("B")

with mlflow.start_run(run_name="parent") as parent:
    run_id = parent.info.run_id
    assert parent.info.artifact_uri.startswith("mlflow-artifacts:/"), parent.info.artifact_uri
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"layers": 3, "act": "relu"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
    mlflow.set_tag("team", "vision")
    mlflow.set_tags({"a": "1", "b": "2"})
    with mlflow.start_run(run_name="child", nested=True) as child:
        child_id = child.info.run_id
        mlflow.log_metric("child_metric", 3.0)
    mlflow.log_artifact(model, "files")
    mlflow.log_artifacts(tree, "tree")
    try:
        mlflow.log_param("lr", 0.02)
        raise AssertionError("changing a param must fail")
    except MlflowException as e:
        assert e.error_code == "INVALID_PARAMETER_VALUE", e.error_code
        assert "Changing param values is not allowed" in e.message, e.message

now = int(time.time() * 1000)
client.log_batch(
    run_id,
    metrics=[Metric("batch_metric", 2.5, now, 7)],
    params=[Param("p2", "x")],
    tags=[RunTag("t2", "y")],
)

run = client.get_run(run_id)
assert run.info.status == "FINISHED", run.info.status
assert run.info.run_name == "parent"
assert run.data.params == {"lr": "0.01", "layers": "3", "act": "relu", "p2": "x"}, run.data.params
assert run.data.metrics["loss"] == 0.2 and run.data.metrics["acc"] == 0.9, run.data.metrics
assert run.data.metrics["batch_metric"] == 2.5
assert run.data.tags["team"] == "vision" and run.data.tags["a"] == "1" and run.data.tags["t2"] == "y"
assert run.data.tags["mlflow.runName"] == "parent"

history = client.get_metric_history(run_id, "loss")
assert [m.step for m in history] == [0, 1, 2, 3, 4], [m.step for m in history]
assert [round(m.value, 4) for m in history] == [1.0, 0.5, 0.3333, 0.25, 0.2]

# A long series (30 batches of 1000): the server streams the whole history (chunked JSON)
# and the stock client reads it like any answer.
for b in range(30):
    client.log_batch(run_id, metrics=[Metric("long", float(i), now, b * 1000 + i) for i in range(1000)])
long_history = client.get_metric_history(run_id, "long")
assert len(long_history) == 30_000, len(long_history)
assert [m.step for m in long_history[:3]] == [0, 1, 2] and long_history[-1].step == 29_999
assert long_history[12_345].value == 345.0

child_run = client.get_run(child_id)
assert child_run.data.tags["mlflow.parentRunId"] == run_id
assert child_run.data.metrics["child_metric"] == 3.0

found = client.search_runs([exp_id], filter_string="metrics.acc > 0.5 AND params.act = 'relu'")
assert [r.info.run_id for r in found] == [run_id], found
ordered = client.search_runs([exp_id], order_by=["attributes.start_time DESC"])
assert {r.info.run_id for r in ordered} == {run_id, child_id}
either = client.search_runs([exp_id], filter_string="metrics.child_metric = 3 OR tags.team = 'vision'")
assert len(either) == 2

names = sorted(f.path for f in client.list_artifacts(run_id))
assert names == ["files", "tree"], names
assert sorted(f.path for f in client.list_artifacts(run_id, "tree")) == ["tree/a.txt", "tree/sub"]
dst = tempfile.mkdtemp()
local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="files/model.txt", dst_path=dst)
assert open(local).read() == "weights"
local_tree = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree", dst_path=dst)
assert open(os.path.join(local_tree, "sub", "b.txt")).read() == "B"

# Datasets and models a run used and produced (log-inputs, outputs, log-model).
dataset = Dataset(
    name="iris",
    digest="d1g3st",
    source_type="http",
    source='{"url": "http://example.com/iris.csv"}',
    schema='{"mlflow_colspec": []}',
    profile='{"num_rows": 150}',
)
train = DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "train")])
client.log_inputs(run_id, datasets=[train], models=[LoggedModelInput("m-input")])
client.log_inputs(run_id, datasets=[train])  # the same dataset again: linked once
client.log_outputs(run_id, [LoggedModelOutput("m-output", 3)])
pyfunc = Model(artifact_path="model", run_id=run_id, flavors={"python_function": {"loader_module": "x"}})
client._record_logged_model(run_id, pyfunc)
run = client.get_run(run_id)
inputs = run.inputs.dataset_inputs
assert len(inputs) == 1, inputs
assert inputs[0].dataset.name == "iris" and inputs[0].dataset.digest == "d1g3st"
assert inputs[0].dataset.source_type == "http" and inputs[0].dataset.profile == '{"num_rows": 150}'
assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "train")]
assert [m.model_id for m in run.inputs.model_inputs] == ["m-input"]
assert [(m.model_id, m.step) for m in run.outputs.model_outputs] == [("m-output", 3)]
used_iris = client.search_runs([run.info.experiment_id], filter_string="datasets.name = 'iris' AND datasets.context = 'train'")
assert [r.info.run_id for r in used_iris] == [run_id], used_iris
assert client.search_runs([run.info.experiment_id], filter_string="datasets.digest = 'other'") == []
history = json.loads(run.data.tags["mlflow.log-model.history"])
assert [(h["artifact_path"], h["run_id"]) for h in history] == [("model", run_id)], history
try:
    client.log_inputs(run_id, datasets=[DatasetInput(Dataset("x" * 501, "d", "local", "{}"))])
    raise AssertionError("an over-long dataset name must fail")
except MlflowException as e:
    assert e.error_code == "INVALID_PARAMETER_VALUE", e.error_code

client.rename_experiment(exp_id, "py-compat-renamed")
assert client.get_experiment(exp_id).name == "py-compat-renamed"
client.delete_experiment(exp_id)
assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
assert client.get_run(run_id).info.lifecycle_stage == "deleted"
client.restore_experiment(exp_id)
assert client.get_experiment_by_name("py-compat-renamed").lifecycle_stage == "active"
try:
    client.get_run("0123456789abcdef0123456789abcdef")
    raise AssertionError("unknown run must fail")
except MlflowException as e:
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code

print("python mlflow client: all checks passed")
