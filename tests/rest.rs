//! The MLflow REST edge over real HTTP/1.1: JSON conventions, errors, and the artifact proxy.

mod common;

use common::*;
use serde_json::{json, Value};

struct Api {
    addr: std::net::SocketAddr,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, bytes) = http(
            self.addr,
            "POST",
            &format!("/api/2.0/mlflow/{path}"),
            Some("application/json"),
            body.to_string().as_bytes(),
        )
        .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let (status, bytes) = http(
            self.addr,
            "GET",
            &format!("/api/2.0/mlflow/{path_and_query}"),
            None,
            b"",
        )
        .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{reply:?}");
    assert_eq!(reply.1["error_code"], code, "{reply:?}");
    assert!(
        reply.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{reply:?}"
    );
}

/// int64 as numbers or numeric strings, ids as numbers, NaN/Infinity both ways, omitted
/// empties, unknown fields ignored, repeated query keys.
#[tokio::test]
async fn json_conventions() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let (s, exp) = api
        .post(
            "experiments/create",
            json!({"name": "rest", "unknown_field": [1, 2]}),
        )
        .await;
    assert_eq!(s, 200, "{exp}");
    let exp_id = exp["experiment_id"].as_str().unwrap().to_owned();
    let (s, run) = api
        .post("runs/create", json!({"experiment_id": exp_id.parse::<i64>().unwrap(), "start_time": "1700000000000", "run_name": "r"}))
        .await;
    assert_eq!(s, 200, "{run}");
    let info = &run["run"]["info"];
    assert_eq!(
        info["start_time"],
        json!(1_700_000_000_000i64),
        "int64 out as a JSON number"
    );
    assert_eq!(info["status"], "RUNNING", "enums out as names");
    assert!(info.get("end_time").is_none(), "unset fields are omitted");
    assert!(
        run["run"]["data"].get("metrics").is_none(),
        "empty lists are omitted"
    );
    let run_id = info["run_id"].as_str().unwrap().to_owned();

    let metrics = json!([
        {"key": "m", "value": "NaN", "timestamp": 1, "step": "1"},
        {"key": "m", "value": "Infinity", "timestamp": "2", "step": 2},
        {"key": "m", "value": "-Infinity", "timestamp": 3, "step": 3},
        {"key": "m", "value": 0.5, "timestamp": 4, "step": -4}
    ]);
    let (s, body) = api
        .post(
            "runs/log-batch",
            json!({"run_id": run_id, "metrics": metrics}),
        )
        .await;
    assert_eq!((s, body), (200, json!({})));
    let (s, history) = api
        .get(&format!("metrics/get-history?run_id={run_id}&metric_key=m"))
        .await;
    assert_eq!(s, 200);
    let values: Vec<Value> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(
        values,
        vec![
            json!(0.5),
            json!("NaN"),
            json!("Infinity"),
            json!("-Infinity")
        ],
        "step order; special doubles as strings"
    );

    let (s, body) = api
        .post(
            "runs/update",
            json!({"run_uuid": run_id, "status": 3, "end_time": "1700000000500"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["run_info"]["status"], "FINISHED", "enum in by number");
    assert_eq!(body["run_info"]["end_time"], json!(1_700_000_000_500i64));

    let (s, other) = api
        .post("runs/create", json!({"experiment_id": exp_id}))
        .await;
    assert_eq!(s, 200);
    let other_id = other["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    api.post(
        "runs/log-metric",
        json!({"run_id": other_id, "key": "m", "value": 2, "timestamp": 5}),
    )
    .await;
    let (s, bulk) = api
        .get(&format!("metrics/get-history-bulk-interval?run_ids={run_id}&run_ids={other_id}&metric_key=m&max_results=10"))
        .await;
    assert_eq!(s, 200, "{bulk}");
    let run_ids: std::collections::HashSet<&str> = bulk["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(run_ids.len(), 2, "repeated query keys become a list");

    // search: POST body and the GET form agree; filter and order_by work over REST too.
    let (s, found) = api
        .post("runs/search", json!({"experiment_ids": [exp_id], "filter": "attributes.status = 'FINISHED'", "order_by": ["attributes.start_time DESC"]}))
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["runs"].as_array().unwrap().len(), 1);
    let (s, by_get) = api
        .get(&format!(
            "runs/search?experiment_ids={exp_id}&filter=attributes.status%20%3D%20%27FINISHED%27&order_by=attributes.start_time%20DESC"
        ))
        .await;
    assert_eq!(s, 200, "{by_get}");
    assert_eq!(
        by_get["runs"], found["runs"],
        "the GET form answers like POST"
    );
    let (s, exps) = api
        .get("experiments/search?max_results=10&filter=name%20LIKE%20%27re%25%27")
        .await;
    assert_eq!(s, 200, "{exps}");
    assert_eq!(exps["experiments"][0]["name"], "rest");
    // The web UI's prefix serves the same API.
    let (s, bytes) = http(
        server.handle.addr(),
        "GET",
        &format!("/ajax-api/2.0/mlflow/runs/get?run_id={run_id}"),
        None,
        b"",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap()["run"]["info"]["run_id"],
        json!(run_id)
    );
}

/// Errors come back as MLflow's JSON with MLflow's statuses.
#[tokio::test]
async fn errors_as_mlflow_json() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let missing = api.post("experiments/create", json!({})).await;
    assert_error(&missing, 400, "INVALID_PARAMETER_VALUE");
    assert!(missing.1["message"]
        .as_str()
        .unwrap()
        .contains("Missing value for required parameter 'name'"));
    api.post("experiments/create", json!({"name": "dup"})).await;
    assert_error(
        &api.post("experiments/create", json!({"name": "dup"})).await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &api.get("runs/get?run_id=0123456789abcdef0123456789abcdef")
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &api.get("experiments/get?experiment_id=999").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_eq!(
        api.post("experiments/delete", json!({"experiment_id": "1"}))
            .await,
        (200, json!({}))
    );
    let renamed = api
        .post(
            "experiments/update",
            json!({"experiment_id": "1", "new_name": "x"}),
        )
        .await;
    assert_error(&renamed, 500, "INVALID_STATE");

    let (_, run) = api.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    for bad in [
        json!({"run_id": run_id, "key": "m", "value": true, "timestamp": 1}),
        json!({"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1}),
        json!({"run_id": run_id, "key": "m", "value": 1, "timestamp": -1}),
        json!({"run_id": run_id, "key": "m", "value": 1, "timestamp": 1.5}),
        json!({"run_id": run_id, "key": "m", "value": 1, "timestamp": "99999999999999999999"}),
        json!({"run_id": run_id, "key": "m", "timestamp": 1}),
        json!({"run_id": run_id, "key": "../m", "value": 1, "timestamp": 1}),
    ] {
        assert_error(
            &api.post("runs/log-metric", bad.clone()).await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    api.post(
        "runs/log-parameter",
        json!({"run_id": run_id, "key": "p", "value": "1"}),
    )
    .await;
    let changed = api
        .post(
            "runs/log-parameter",
            json!({"run_id": run_id, "key": "p", "value": "2"}),
        )
        .await;
    assert_error(&changed, 400, "INVALID_PARAMETER_VALUE");
    assert!(changed.1["message"]
        .as_str()
        .unwrap()
        .starts_with("Changing param values is not allowed"));

    let addr = server.handle.addr();
    let wrong_type = http(
        addr,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        Some("text/plain"),
        br#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(wrong_type.0, 400);
    let malformed = http(
        addr,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        Some("application/json"),
        b"{\"name\":",
    )
    .await;
    assert_eq!(malformed.0, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&malformed.1).unwrap()["error_code"],
        "INVALID_PARAMETER_VALUE"
    );
    // A body over the 16 MiB limit is refused from its announced length, before it is read
    // (the server then closes the connection, as the rest is never read).
    let (status, body) =
        announce_body(addr, "POST", "/api/2.0/mlflow/experiments/create", 17 << 20).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error_code"],
        "INVALID_PARAMETER_VALUE"
    );
    let unknown = api.get("runs/teleport").await;
    assert_eq!(unknown.0, 404);
}

/// The artifact proxy stores, lists, serves and deletes files under the store's root,
/// through the same validator as gRPC.
#[tokio::test]
async fn artifact_proxy() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let addr = server.handle.addr();
    let (_, run) = api.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let base = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts");
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        http(
            addr,
            "PUT",
            &format!("{base}/model/weights.bin"),
            None,
            &payload
        )
        .await
        .0,
        200
    );
    let (status, body) = http(addr, "GET", &format!("{base}/model/weights.bin"), None, b"").await;
    assert_eq!(status, 200);
    assert_eq!(body, payload);
    let (status, list) = http(
        addr,
        "GET",
        &format!("/api/2.0/mlflow-artifacts/artifacts?path=0/{run_id}/artifacts/model"),
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&list).unwrap(),
        json!({"files": [{"path": "weights.bin", "is_dir": false, "file_size": 300000}]})
    );
    let (_, tracking_list) = api.get(&format!("artifacts/list?run_id={run_id}")).await;
    assert_eq!(tracking_list["files"][0]["path"], "model");
    assert_eq!(
        tracking_list["root_uri"],
        format!("mlflow-artifacts:/0/{run_id}/artifacts")
    );
    for hostile in ["..%2f..%2fetc%2fpasswd", "%252e%252e/x", "a%00b", "a%5cb"] {
        let (status, body) = http(
            addr,
            "GET",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{hostile}"),
            None,
            b"",
        )
        .await;
        assert_eq!(status, 400, "{hostile}: {}", String::from_utf8_lossy(&body));
        let (status, _) = http(
            addr,
            "PUT",
            &format!("/api/2.0/mlflow-artifacts/artifacts/{hostile}"),
            None,
            b"x",
        )
        .await;
        assert_eq!(status, 400, "{hostile}");
    }
    let (status, body) = http(
        addr,
        "POST",
        &format!("/api/2.0/mlflow-artifacts/mpu/create/0/{run_id}/artifacts/x"),
        Some("application/json"),
        br#"{"path": "w.bin", "num_parts": 1}"#,
    )
    .await;
    assert_eq!(status, 501);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error_code"],
        "NOT_IMPLEMENTED"
    );
    assert_eq!(
        http(addr, "DELETE", &format!("{base}/model"), None, b"")
            .await
            .0,
        200
    );
    assert_eq!(
        http(addr, "GET", &format!("{base}/model/weights.bin"), None, b"")
            .await
            .0,
        404
    );
}

/// log-inputs, outputs and log-model: stored once, returned by runs/get and runs/search,
/// refused clearly when malformed or when the run is deleted.
#[tokio::test]
async fn run_inputs_outputs_and_logged_models() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let (_, run) = api.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let dataset = json!({"name": "iris", "digest": "abc", "source_type": "local", "source": "{\"uri\": \"/data/iris.csv\"}"});
    let input =
        json!({"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset});
    for _ in 0..2 {
        let reply = api
            .post(
                "runs/log-inputs",
                json!({"run_id": run_id, "datasets": [input], "models": [{"model_id": "m-1"}]}),
            )
            .await;
        assert_eq!(reply, (200, json!({})));
    }
    let reply = api
        .post(
            "runs/outputs",
            json!({"run_id": run_id, "models": [{"model_id": "m-2", "step": "7"}]}),
        )
        .await;
    assert_eq!(reply, (200, json!({})));
    let model = json!({"artifact_path": "model", "flavors": {}, "run_id": run_id, "utc_time_created": "2026-11-23 10:00:00"});
    for _ in 0..2 {
        let reply = api
            .post(
                "runs/log-model",
                json!({"run_id": run_id, "model_json": model.to_string()}),
            )
            .await;
        assert_eq!(reply, (200, json!({})));
    }

    let (status, got) = api.get(&format!("runs/get?run_id={run_id}")).await;
    assert_eq!(status, 200);
    let run = &got["run"];
    assert_eq!(
        run["inputs"],
        json!({"dataset_inputs": [input], "model_inputs": [{"model_id": "m-1"}]}),
        "the same dataset and model logged twice are linked once"
    );
    assert_eq!(
        run["outputs"],
        json!({"model_outputs": [{"model_id": "m-2", "step": 7}]})
    );
    let history = run["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "mlflow.log-model.history")
        .expect("log-model history tag");
    let history: Value = serde_json::from_str(history["value"].as_str().unwrap()).unwrap();
    assert_eq!(history, json!([model, model]));
    let (_, found) = api
        .post("runs/search", json!({"experiment_ids": ["0"]}))
        .await;
    assert_eq!(found["runs"][0]["inputs"], run["inputs"]);

    // Malformed input: each refused with INVALID_PARAMETER_VALUE, nothing stored.
    let no_digest = json!({"run_id": run_id, "datasets": [{"dataset": {"name": "x", "source_type": "local", "source": "s"}}]});
    let long_name = json!({"run_id": run_id, "datasets": [{"dataset": {"name": "n".repeat(501), "digest": "d", "source_type": "local", "source": "s"}}]});
    let long_tag = json!({"run_id": run_id, "datasets": [{"tags": [{"key": "k", "value": "v".repeat(501)}], "dataset": {"name": "y", "digest": "d", "source_type": "local", "source": "s"}}]});
    for (body, mentions) in [
        (no_digest, "digest"),
        (long_name, "Dataset name"),
        (long_tag, "Input tag value"),
    ] {
        let reply = api.post("runs/log-inputs", body).await;
        assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
        assert!(
            reply.1["message"].as_str().unwrap().contains(mentions),
            "{reply:?}"
        );
    }
    let reply = api
        .post(
            "runs/log-model",
            json!({"run_id": run_id, "model_json": "{\"flavors\": {}}"}),
        )
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    assert!(reply.1["message"]
        .as_str()
        .unwrap()
        .contains("artifact_path"));
    let reply = api
        .post(
            "runs/log-model",
            json!({"run_id": run_id, "model_json": "not json"}),
        )
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    let (_, after) = api.get(&format!("runs/get?run_id={run_id}")).await;
    assert_eq!(after["run"]["inputs"], run["inputs"]);

    // A deleted run refuses all three; an unknown run is not found.
    assert_eq!(
        api.post("runs/delete", json!({"run_id": run_id})).await.0,
        200
    );
    let reply = api
        .post(
            "runs/log-inputs",
            json!({"run_id": run_id, "datasets": [input]}),
        )
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    let reply = api
        .post(
            "runs/outputs",
            json!({"run_id": run_id, "models": [{"model_id": "m"}]}),
        )
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    let reply = api
        .post(
            "runs/log-inputs",
            json!({"run_id": "0123456789abcdef0123456789abcdef", "datasets": [input]}),
        )
        .await;
    assert_error(&reply, 404, "RESOURCE_DOES_NOT_EXIST");
}

/// Presigned URLs point at the artifact proxy of the host the client used; the upload URL
/// takes a PUT, the download URL serves the bytes and reports the size.
#[tokio::test]
async fn presigned_urls() {
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let api = Api { addr };
    let (_, run) = api.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();

    let (status, up) = api
        .post(
            "artifacts/presigned-upload-url",
            json!({"run_id": run_id, "path": "plots/loss curve.png", "expiration": 900}),
        )
        .await;
    assert_eq!(status, 200, "{up:?}");
    assert_eq!(up["headers"], json!({}));
    let url = up["presigned_url"].as_str().unwrap();
    let expected = format!(
        "http://localhost/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/plots/loss%20curve.png"
    );
    assert_eq!(url, expected);
    let path = url.strip_prefix("http://localhost").unwrap();
    assert_eq!(http(addr, "PUT", path, None, b"png bytes").await.0, 200);

    let (status, down) = api
        .post(
            "artifacts/presigned-download-url",
            json!({"run_id": run_id, "path": "plots/loss curve.png"}),
        )
        .await;
    assert_eq!(status, 200, "{down:?}");
    assert_eq!(down["presigned_url"], expected);
    assert_eq!(down["file_size"], 9);
    assert_eq!(
        http(addr, "GET", path, None, b"").await,
        (200, b"png bytes".to_vec())
    );

    // Missing file, hostile path, missing path, directory as upload target.
    let missing = api
        .post(
            "artifacts/presigned-download-url",
            json!({"run_id": run_id, "path": "nope.txt"}),
        )
        .await;
    assert_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    for path in ["../../etc/passwd", "%2e%2e/x", "/abs"] {
        let reply = api
            .post(
                "artifacts/presigned-upload-url",
                json!({"run_id": run_id, "path": path}),
            )
            .await;
        assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    }
    let reply = api
        .post("artifacts/presigned-upload-url", json!({"run_id": run_id}))
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    let reply = api
        .post(
            "artifacts/presigned-upload-url",
            json!({"run_id": run_id, "path": "plots"}),
        )
        .await;
    assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
}

/// trackd's own backup endpoint: a named, consistent backup next to the store; bad and
/// reused names refused with MLflow's error JSON.
#[tokio::test]
async fn backups_over_rest() {
    let server = TestServer::start().await;
    let addr = server.handle.addr();
    let post = |body: Value| async move {
        let (status, bytes) = http(
            addr,
            "POST",
            "/api/2.0/trackd/backups/create",
            Some("application/json"),
            body.to_string().as_bytes(),
        )
        .await;
        (
            status,
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
        )
    };
    let made = post(json!({"name": "rest-1"})).await;
    if on_postgres() {
        // PostgreSQL is backed up with its own tools; the endpoint says so.
        assert_eq!(made.0, 501, "{made:?}");
        let message = made.1["message"].as_str().unwrap();
        assert!(message.contains("pg_dump"), "{message}");
        return;
    }
    assert_eq!(made.0, 200, "{made:?}");
    let path = made.1["path"].as_str().unwrap();
    assert!(path.ends_with("backups/rest-1"), "{path}");
    assert!(std::path::Path::new(path).join("db").is_dir());
    assert!(made.1["database_entries"].as_u64().unwrap() > 0);
    assert_error(
        &post(json!({"name": "rest-1"})).await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &post(json!({"name": "../out"})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(&post(json!({})).await, 400, "INVALID_PARAMETER_VALUE");
}
