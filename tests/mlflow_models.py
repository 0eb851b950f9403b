"""MLflow's logging tutorial (iris, LogisticRegression) against trackd, then the model loaded
back as MLflow 3 users do. Every value read back is asserted; prints "all checks passed".

Run by tests/mlflow_python.rs with MLFLOW_TRACKING_URI pointing at a trackd server.
"""

import os
import tempfile

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

client = MlflowClient()

# --- the tutorial (solver lbfgs: scikit-learn >= 1.8 refuses liblinear for 3 classes) ---
X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
mlflow.set_experiment("iris-tutorial")
with mlflow.start_run(run_name="Iris Logistic Regression") as run:
    C_val, solver_val = 1.0, "lbfgs"
    mlflow.log_param("C", C_val)
    mlflow.log_param("solver", solver_val)
    model = LogisticRegression(C=C_val, solver=solver_val, random_state=42, max_iter=500)
    model.fit(X_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test))
    mlflow.log_metric("accuracy", accuracy)
    info = mlflow.sklearn.log_model(model, name="iris_model")
    run_id = run.info.run_id
    assert mlflow.get_run(run_id).data.params["C"] == "1.0"
    assert mlflow.get_run(run_id).data.metrics["accuracy"] == accuracy

expected = model.predict(X_test)

# --- the logged model as MLflow 3 records it ---
model_id = info.model_id
assert model_id.startswith("m-") and len(model_id) == 34, model_id
logged = mlflow.get_logged_model(model_id)
assert logged.name == "iris_model", logged.name
assert logged.source_run_id == run_id
assert str(logged.status) in ("READY", "LoggedModelStatus.READY"), logged.status
assert logged.params.get("C") == "1.0", logged.params
assert any(m.key == "accuracy" and m.value == accuracy for m in logged.metrics), logged.metrics
assert logged.artifact_location.endswith(f"/models/{model_id}/artifacts"), logged.artifact_location
outputs = mlflow.get_run(run_id).outputs
assert [o.model_id for o in outputs.model_outputs] == [model_id], outputs
# The run's history was not doubled by the model's copy of its metrics.
assert len(client.get_metric_history(run_id, "accuracy")) == 1

# --- loading it back, every way the tutorial's readers do ---
for uri in (info.model_uri, f"models:/{model_id}", f"runs:/{run_id}/iris_model"):
    loaded = mlflow.sklearn.load_model(uri)
    assert (loaded.predict(X_test) == expected).all(), uri
    pyfunc = mlflow.pyfunc.load_model(uri)
    assert (np.asarray(pyfunc.predict(X_test)) == expected).all(), uri
with tempfile.TemporaryDirectory() as tmp:
    local = mlflow.artifacts.download_artifacts(f"models:/{model_id}", dst_path=tmp)
    assert os.path.exists(os.path.join(local, "MLmodel")), os.listdir(local)
    parsed = mlflow.models.Model.load(os.path.join(local, "MLmodel"))
    assert parsed.model_id == model_id and parsed.run_id == run_id
    assert "sklearn" in parsed.flavors and "python_function" in parsed.flavors

# --- search ---
exp_id = run.info.experiment_id
found = mlflow.search_logged_models(experiment_ids=[exp_id], output_format="list")
assert [m.model_id for m in found] == [model_id], found
found = mlflow.search_logged_models(
    experiment_ids=[exp_id], filter_string="name = 'iris_model' AND metrics.accuracy > 0.5",
    output_format="list")
assert [m.model_id for m in found] == [model_id], found
assert mlflow.search_logged_models(
    experiment_ids=[exp_id], filter_string="name = 'other'", output_format="list") == []
# Paging: two more models, one per page, newest first (MLflow's default order).
extra = [mlflow.initialize_logged_model(name=f"extra{i}", experiment_id=exp_id) for i in range(2)]
page1 = client.search_logged_models(experiment_ids=[exp_id], max_results=1)
page2 = client.search_logged_models(experiment_ids=[exp_id], max_results=1, page_token=page1.token)
page3 = client.search_logged_models(experiment_ids=[exp_id], max_results=1, page_token=page2.token)
seen = [m.model_id for m in (*page1, *page2, *page3)]
assert seen == [extra[1].model_id, extra[0].model_id, model_id], seen
ordered = client.search_logged_models(
    experiment_ids=[exp_id], order_by=[{"field_name": "name", "ascending": True}])
assert [m.name for m in ordered] == ["extra0", "extra1", "iris_model"]

# --- tags, params, finalize, delete, and bad input ---
client.set_logged_model_tags(model_id, {"stage": "candidate"})
assert mlflow.get_logged_model(model_id).tags["stage"] == "candidate"
client.delete_logged_model_tag(model_id, "stage")
assert "stage" not in mlflow.get_logged_model(model_id).tags
pending = extra[0]
assert str(mlflow.get_logged_model(pending.model_id).status).endswith("PENDING")
client.finalize_logged_model(pending.model_id, "READY")
client.finalize_logged_model(pending.model_id, "READY")  # again, the same: fine


def refused(call, code):
    try:
        call()
    except MlflowException as e:
        assert e.error_code == code, (e.error_code, e)
        return
    raise AssertionError("not refused")


refused(lambda: client.finalize_logged_model(pending.model_id, "FAILED"), "INVALID_PARAMETER_VALUE")
refused(lambda: mlflow.get_logged_model("m-" + "0" * 32), "RESOURCE_DOES_NOT_EXIST")
refused(lambda: mlflow.get_logged_model("not-a-model"), "RESOURCE_DOES_NOT_EXIST")
# A traversing id leaves the API's paths altogether: nothing is served.
refused(lambda: mlflow.get_logged_model("../../etc"), "ENDPOINT_NOT_FOUND")
refused(lambda: mlflow.initialize_logged_model(name="a/b", experiment_id=exp_id),
        "INVALID_PARAMETER_VALUE")
client.delete_logged_model(extra[1].model_id)
refused(lambda: mlflow.get_logged_model(extra[1].model_id), "RESOURCE_DOES_NOT_EXIST")
deleted = requests.get(
    # (a trackd:// URI, when run through the trackd plugin, is the same server over http://)
    f"{os.environ['MLFLOW_TRACKING_URI'].replace('trackd://', 'http://')}/api/2.0/mlflow/logged-models/{extra[1].model_id}",
    params={"allow_deleted": "true"}, timeout=30).json()
assert deleted["model"]["info"]["model_id"] == extra[1].model_id, deleted

# --- the model registry ---
mv = mlflow.register_model(f"runs:/{run_id}/iris_model", "iris")
assert mv.version == "1" and mv.source == f"models:/{model_id}", mv
client.set_registered_model_alias("iris", "champion", mv.version)
for uri in ("models:/iris/1", "models:/iris@champion"):
    assert (mlflow.sklearn.load_model(uri).predict(X_test) == expected).all(), uri
    assert (np.asarray(mlflow.pyfunc.load_model(uri).predict(X_test)) == expected).all(), uri
mv2 = client.create_model_version("iris", f"models:/{model_id}", run_id=run_id,
                                  model_id=model_id, description="second")
assert mv2.version == "2" and mv2.description == "second"
assert client.get_model_version_by_alias("iris", "champion").version == "1"
assert [m.name for m in mlflow.search_registered_models()] == ["iris"]
assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'ir%'")] == ["iris"]
assert client.search_registered_models(filter_string="name = 'nope'") == []
versions = client.search_model_versions(f"name = 'iris' AND run_id = '{run_id}'")
assert sorted(v.version for v in versions) == ["1", "2"], versions
client.transition_model_version_stage("iris", "2", "Production")
assert [v.version for v in client.get_latest_versions("iris", stages=["Production"])] == ["2"]
client.set_registered_model_tag("iris", "team", "ml")
client.set_model_version_tag("iris", "1", "validated", "yes")
rm = client.get_registered_model("iris")
assert rm.tags == {"team": "ml"} and rm.aliases == {"champion": "1"}, (rm.tags, rm.aliases)
assert client.get_model_version("iris", "1").tags == {"validated": "yes"}
client.rename_registered_model("iris", "iris-clf")
assert client.get_model_version_by_alias("iris-clf", "champion").version == "1"
refused(lambda: client.get_registered_model("iris"), "RESOURCE_DOES_NOT_EXIST")
# Bad input: reserved or version-like aliases, versions that are not numbers, sources that
# escape their run or point at another server, unknown names.
refused(lambda: client.set_registered_model_alias("iris-clf", "latest", "1"),
        "INVALID_PARAMETER_VALUE")
refused(lambda: client.set_registered_model_alias("iris-clf", "v2", "1"), "INVALID_PARAMETER_VALUE")
refused(lambda: client.set_registered_model_alias("iris-clf", "x", "9"), "RESOURCE_DOES_NOT_EXIST")
refused(lambda: client.get_model_version("iris-clf", "one"), "INVALID_PARAMETER_VALUE")
refused(lambda: client.create_model_version("iris-clf", f"runs:/{run_id}/../../x"),
        "INVALID_PARAMETER_VALUE")
refused(lambda: client.create_model_version("iris-clf", "s3://elsewhere/model"),
        "INVALID_PARAMETER_VALUE")
refused(lambda: client.create_model_version("nope", f"models:/{model_id}"),
        "RESOURCE_DOES_NOT_EXIST")
refused(lambda: client.create_registered_model("iris-clf"), "RESOURCE_ALREADY_EXISTS")
assert len(client.search_model_versions("name = 'iris-clf'")) == 2, "nothing more was stored"
# Deleting the run does not break a registered version (it references the model's files).
client.delete_run(run_id)
assert (mlflow.sklearn.load_model("models:/iris-clf/1").predict(X_test) == expected).all()
client.delete_model_version("iris-clf", "2")
refused(lambda: client.get_model_version("iris-clf", "2"), "RESOURCE_DOES_NOT_EXIST")
client.delete_registered_model("iris-clf")
refused(lambda: client.get_registered_model("iris-clf"), "RESOURCE_DOES_NOT_EXIST")
print("all checks passed")
