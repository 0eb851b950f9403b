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
    f"{os.environ['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/logged-models/{extra[1].model_id}",
    params={"allow_deleted": "true"}, timeout=30).json()
assert deleted["model"]["info"]["model_id"] == extra[1].model_id, deleted
print("all checks passed")
