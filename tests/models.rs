//! MLflow 3's logged models over the REST API and the artifact proxy, against a real server:
//! their life (create, files, finalize, tags, params, metrics, delete), search, and bad input
//! refused with MLflow's error codes and nothing stored.

mod common;

use common::*;
use serde_json::{json, Value};

struct Api {
    addr: std::net::SocketAddr,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, bytes) = http(
            self.addr,
            method,
            path,
            (!body.is_empty()).then_some("application/json"),
            body.as_bytes(),
        )
        .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn mlflow(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, &format!("/api/2.0/mlflow/{path}"), body)
            .await
    }

    async fn raw(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        http(self.addr, method, path, None, body).await
    }
}

fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{reply:?}");
    assert_eq!(reply.1["error_code"], code, "{reply:?}");
}

async fn create(api: &Api, body: Value) -> Value {
    let (status, reply) = api.mlflow("POST", "logged-models", Some(body)).await;
    assert_eq!(status, 200, "{reply}");
    reply["model"].clone()
}

/// A model's whole life over REST, with its files through the proxy.
#[tokio::test]
async fn a_logged_model_lives_through_the_rest_api() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let (_, run) = api
        .mlflow("POST", "runs/create", Some(json!({"experiment_id": "0"})))
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let model = create(
        &api,
        json!({"experiment_id": "0", "name": "iris_model", "source_run_id": run_id,
               "params": [{"key": "C", "value": "1.0"}], "tags": [{"key": "t", "value": "v"}]}),
    )
    .await;
    let info = &model["info"];
    let id = info["model_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("m-") && id.len() == 34, "{id}");
    assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
    assert_eq!(info["source_run_id"], run_id.as_str());
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/0/models/{id}/artifacts")
    );
    assert_eq!(info["tags"], json!([{"key": "t", "value": "v"}]));
    assert_eq!(
        model["data"]["params"],
        json!([{"key": "C", "value": "1.0"}])
    );

    // Files through the artifact proxy, under the model's location.
    let file = format!("/api/2.0/mlflow-artifacts/artifacts/0/models/{id}/artifacts/MLmodel");
    assert_eq!(api.raw("PUT", &file, b"flavors: {}\n").await.0, 200);
    let (status, body) = api.raw("GET", &file, b"").await;
    assert_eq!((status, body.as_slice()), (200, &b"flavors: {}\n"[..]));
    let (status, listing) = api
        .call(
            "GET",
            &format!("/api/2.0/mlflow-artifacts/artifacts?path=0/models/{id}/artifacts"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listing["files"][0]["path"], "MLmodel", "{listing}");
    // MLflow's own listing and download of a logged model's files.
    let (status, listing) = api
        .mlflow(
            "GET",
            &format!("logged-models/{id}/artifacts/directories"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["files"][0]["path"], "MLmodel", "{listing}");
    let (status, body) = api
        .raw(
            "GET",
            &format!(
                "/api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=MLmodel"
            ),
            b"",
        )
        .await;
    assert_eq!((status, body.as_slice()), (200, &b"flavors: {}\n"[..]));
    let (status, _) = api
        .raw(
            "GET",
            &format!(
                "/api/2.0/mlflow/logged-models/{id}/artifacts/files?artifact_file_path=../../x"
            ),
            b"",
        )
        .await;
    assert_eq!(status, 400, "traversal refused");
    // Traversal out of the model's files, and deleting their root, are refused.
    for path in [
        format!("0/models/{id}/artifacts/../../../x"),
        format!("0/models/{id}/artifacts/%2e%2e/%2e%2e/x"),
    ] {
        let reply = api
            .raw(
                "PUT",
                &format!("/api/2.0/mlflow-artifacts/artifacts/{path}"),
                b"x",
            )
            .await;
        assert!((400..500).contains(&reply.0), "{path}: {reply:?}");
    }
    let reply = api
        .raw(
            "DELETE",
            &format!("/api/2.0/mlflow-artifacts/artifacts/0/models/{id}/artifacts/"),
            b"",
        )
        .await;
    assert!((400..500).contains(&reply.0), "{reply:?}");
    assert_eq!(api.raw("GET", &file, b"").await.0, 200, "still there");

    // Metrics logged with the model's id reach the model, and the run once.
    let metric = json!({"key": "accuracy", "value": 0.9, "timestamp": 5, "step": 0});
    let reply = api
        .mlflow(
            "POST",
            "runs/log-batch",
            Some(json!({"run_id": run_id, "metrics": [metric]})),
        )
        .await;
    assert_eq!(reply.0, 200);
    let mut with_model = metric.clone();
    with_model["model_id"] = json!(id);
    let reply = api
        .mlflow(
            "POST",
            "runs/log-batch",
            Some(json!({"run_id": run_id, "metrics": [with_model]})),
        )
        .await;
    assert_eq!(reply.0, 200, "{reply:?}");
    let (_, got) = api
        .mlflow("GET", &format!("logged-models/{id}"), None)
        .await;
    let metrics = &got["model"]["data"]["metrics"];
    assert_eq!(metrics[0]["key"], "accuracy", "{got}");
    assert_eq!(metrics[0]["value"], 0.9);
    assert_eq!(metrics[0]["run_id"], run_id.as_str());
    let (_, history) = api
        .mlflow(
            "GET",
            &format!("metrics/get-history?run_id={run_id}&metric_key=accuracy"),
            None,
        )
        .await;
    assert_eq!(history["metrics"].as_array().unwrap().len(), 1, "{history}");
    // A metric naming an unknown model is refused, and the run gets nothing.
    let mut unknown = json!({"key": "other", "value": 1, "timestamp": 6});
    unknown["model_id"] = json!(format!("m-{}", "0".repeat(32)));
    let reply = api
        .mlflow(
            "POST",
            "runs/log-batch",
            Some(json!({"run_id": run_id, "metrics": [unknown]})),
        )
        .await;
    assert_error(&reply, 404, "RESOURCE_DOES_NOT_EXIST");
    let (_, run) = api
        .mlflow("GET", &format!("runs/get?run_id={run_id}"), None)
        .await;
    assert!(
        !run["run"]["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "other"),
        "{run}"
    );

    // Tags and params.
    let tags = format!("logged-models/{id}/tags");
    let reply = api
        .mlflow(
            "PATCH",
            &tags,
            Some(json!({"tags": [{"key": "stage", "value": "candidate"}]})),
        )
        .await;
    assert_eq!(reply.0, 200);
    assert_eq!(
        api.mlflow("DELETE", &format!("{tags}/stage"), None).await.0,
        200
    );
    assert_error(
        &api.mlflow("DELETE", &format!("{tags}/stage"), None).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let params = format!("logged-models/{id}/params");
    let same = json!({"params": [{"key": "C", "value": "1.0"}, {"key": "D", "value": "2"}]});
    assert_eq!(api.mlflow("POST", &params, Some(same)).await.0, 200);
    assert_error(
        &api.mlflow(
            "POST",
            &params,
            Some(json!({"params": [{"key": "C", "value": "9"}]})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    // Finalize: READY (again: fine), then not FAILED; PENDING is not a final status.
    let path = format!("logged-models/{id}");
    assert_error(
        &api.mlflow(
            "PATCH",
            &path,
            Some(json!({"status": "LOGGED_MODEL_PENDING"})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    for _ in 0..2 {
        let (status, got) = api
            .mlflow(
                "PATCH",
                &path,
                Some(json!({"model_id": id, "status": "LOGGED_MODEL_READY"})),
            )
            .await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["model"]["info"]["status"], "LOGGED_MODEL_READY");
    }
    assert_error(
        &api.mlflow("PATCH", &path, Some(json!({"status": 3}))).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    // Delete: gone, except with allow_deleted; its files take no more uploads.
    assert_eq!(api.mlflow("DELETE", &path, None).await.0, 200);
    assert_error(
        &api.mlflow("GET", &path, None).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let (status, got) = api
        .mlflow("GET", &format!("{path}?allow_deleted=true"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["model"]["info"]["model_id"], id.as_str());
    assert_eq!(api.raw("PUT", &file, b"again").await.0, 404);
}

/// Bad input: unknown or malformed ids, bad names, a missing experiment, a source run of
/// another experiment — each refused with MLflow's code, nothing created.
#[tokio::test]
async fn bad_logged_model_requests_are_refused() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    for id in [
        format!("m-{}", "0".repeat(32)),
        "nope".into(),
        "m-xyz".into(),
    ] {
        assert_error(
            &api.mlflow("GET", &format!("logged-models/{id}"), None)
                .await,
            404,
            "RESOURCE_DOES_NOT_EXIST",
        );
    }
    for name in ["a/b", "a.b", "a:b", "50%", &"n".repeat(501)] {
        assert_error(
            &api.mlflow(
                "POST",
                "logged-models",
                Some(json!({"experiment_id": "0", "name": name})),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    assert_error(
        &api.mlflow("POST", "logged-models", Some(json!({"name": "x"})))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &api.mlflow(
            "POST",
            "logged-models",
            Some(json!({"experiment_id": "42"})),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let (_, exp) = api
        .mlflow("POST", "experiments/create", Some(json!({"name": "other"})))
        .await;
    let other = exp["experiment_id"].as_str().unwrap().to_owned();
    let (_, run) = api
        .mlflow("POST", "runs/create", Some(json!({"experiment_id": other})))
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
    assert_error(
        &api.mlflow(
            "POST",
            "logged-models",
            Some(json!({"experiment_id": "0", "source_run_id": run_id})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (status, found) = api
        .mlflow(
            "POST",
            "logged-models/search",
            Some(json!({"experiment_ids": ["0", other]})),
        )
        .await;
    assert_eq!((status, found), (200, json!({})), "nothing was created");
    assert_error(
        &api.mlflow(
            "POST",
            "logged-models/search",
            Some(json!({"experiment_ids": ["0"], "filter": "attributes.nope = 'x'"})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &api.mlflow("POST", "logged-models/search", Some(json!({})))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

/// Search: filters on attributes, params, tags and metrics; MLflow's default order (newest
/// first); ordering by name and by a metric; pages that cover everything once.
#[tokio::test]
async fn logged_models_are_searched_filtered_ordered_and_paged() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let mut ids = Vec::new();
    for (i, name) in ["b", "a", "c"].iter().enumerate() {
        let model = create(
            &api,
            json!({"experiment_id": "0", "name": name, "model_type": "sk",
                   "params": [{"key": "i", "value": i.to_string()}]}),
        )
        .await;
        let id = model["info"]["model_id"].as_str().unwrap().to_owned();
        let (_, run) = api
            .mlflow("POST", "runs/create", Some(json!({"experiment_id": "0"})))
            .await;
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap();
        let metric =
            json!({"key": "acc", "value": i as f64 / 10.0, "timestamp": 1, "model_id": id});
        let reply = api
            .mlflow(
                "POST",
                "runs/log-batch",
                Some(json!({"run_id": run_id, "metrics": [metric]})),
            )
            .await;
        assert_eq!(reply.0, 200);
        ids.push(id);
    }
    let search = |body: Value| {
        let api = &api;
        async move {
            let (status, reply) = api.mlflow("POST", "logged-models/search", Some(body)).await;
            assert_eq!(status, 200, "{reply}");
            let names: Vec<String> = reply["models"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| m["info"]["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (names, reply["next_page_token"].as_str().map(str::to_owned))
        }
    };
    // Default order: newest first.
    let (names, _) = search(json!({"experiment_ids": ["0"]})).await;
    assert_eq!(names, ["c", "a", "b"]);
    let (names, _) = search(
        json!({"experiment_ids": ["0"], "filter": "metrics.acc >= 0.1 AND params.i != '2'"}),
    )
    .await;
    assert_eq!(names, ["a"]);
    let (names, _) = search(json!({"experiment_ids": ["0"], "filter": "name LIKE '%' AND model_type = 'sk' AND status = 'PENDING'"})).await;
    assert_eq!(names.len(), 3);
    let (names, _) =
        search(json!({"experiment_ids": ["0"], "order_by": [{"field_name": "name"}]})).await;
    assert_eq!(names, ["a", "b", "c"]);
    let (names, _) = search(json!({"experiment_ids": ["0"], "order_by": [{"field_name": "metrics.acc", "ascending": false}]})).await;
    assert_eq!(names, ["c", "a", "b"]);
    // One per page, each once, in order.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"experiment_ids": ["0"], "max_results": 1});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let (names, next) = search(body).await;
        seen.extend(names);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(seen.len() <= 3, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, ["c", "a", "b"]);
    // GET with the query string works too.
    let (status, reply) = api
        .mlflow(
            "GET",
            "logged-models/search?experiment_ids=0&max_results=2",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(reply["models"].as_array().unwrap().len(), 2);
}

/// The registry over REST: a version of a logged model, its JSON (model id, aliases, stage),
/// the download URI, DELETE requests with a JSON body (as MLflow's client sends them), and
/// bad input refused with nothing stored.
#[tokio::test]
async fn the_registry_registers_versions_of_logged_models() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let model = create(&api, json!({"experiment_id": "0", "name": "m"})).await;
    let id = model["info"]["model_id"].as_str().unwrap().to_owned();
    let reply = api
        .mlflow(
            "POST",
            "registered-models/create",
            Some(json!({"name": "iris", "tags": [{"key": "team", "value": "ml"}]})),
        )
        .await;
    assert_eq!(reply.0, 200, "{reply:?}");
    assert_error(
        &api.mlflow(
            "POST",
            "registered-models/create",
            Some(json!({"name": "iris"})),
        )
        .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    for _ in 0..2 {
        let (status, v) = api
            .mlflow(
                "POST",
                "model-versions/create",
                Some(json!({"name": "iris", "source": format!("models:/{id}")})),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["model_version"]["model_id"], id.as_str());
    }
    let reply = api
        .mlflow(
            "POST",
            "registered-models/alias",
            Some(json!({"name": "iris", "alias": "champion", "version": "1"})),
        )
        .await;
    assert_eq!(reply.0, 200);
    let (status, v) = api
        .mlflow("GET", "model-versions/get?name=iris&version=1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["model_version"],
        json!({"name": "iris", "version": "1", "current_stage": "None", "status": "READY",
               "source": format!("models:/{id}"), "model_id": id, "aliases": ["champion"],
               "creation_timestamp": v["model_version"]["creation_timestamp"],
               "last_updated_timestamp": v["model_version"]["last_updated_timestamp"]})
    );
    let (_, uri) = api
        .mlflow(
            "GET",
            "model-versions/get-download-uri?name=iris&version=2",
            None,
        )
        .await;
    assert_eq!(
        uri["artifact_uri"],
        format!("mlflow-artifacts:/0/models/{id}/artifacts")
    );
    // DELETE with a JSON body: the alias goes, then version 1 (its number is not reused).
    let reply = api
        .mlflow(
            "DELETE",
            "registered-models/alias",
            Some(json!({"name": "iris", "alias": "champion"})),
        )
        .await;
    assert_eq!(reply.0, 200, "{reply:?}");
    let reply = api
        .mlflow(
            "DELETE",
            "model-versions/delete",
            Some(json!({"name": "iris", "version": "1"})),
        )
        .await;
    assert_eq!(reply.0, 200, "{reply:?}");
    let (_, v) = api
        .mlflow(
            "POST",
            "model-versions/create",
            Some(json!({"name": "iris", "source": format!("models:/{id}")})),
        )
        .await;
    assert_eq!(v["model_version"]["version"], "3");
    let (_, got) = api
        .mlflow("GET", "registered-models/get?name=iris", None)
        .await;
    assert!(got["registered_model"].get("aliases").is_none(), "{got}");
    // Bad input, nothing stored.
    for (body, code) in [
        (json!({"name": "iris", "source": "s3://other/model"}), 400),
        (
            json!({"name": "iris", "source": "runs:/0123456789abcdef0123456789abcdef/x"}),
            404,
        ),
        (
            json!({"name": "iris", "source": format!("models:/{id}/../../x")}),
            404,
        ),
        (
            json!({"name": "nope", "source": format!("models:/{id}")}),
            404,
        ),
        (json!({"name": "iris"}), 400),
    ] {
        let reply = api
            .mlflow("POST", "model-versions/create", Some(body.clone()))
            .await;
        assert_eq!(reply.0, code, "{body}: {reply:?}");
    }
    for (path, code) in [
        (
            "model-versions/get?name=iris&version=x",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "model-versions/get?name=iris&version=0",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "model-versions/get?name=iris&version=1",
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "registered-models/alias?name=iris&alias=champion",
            "RESOURCE_DOES_NOT_EXIST",
        ),
    ] {
        let reply = api.mlflow("GET", path, None).await;
        assert_eq!(reply.1["error_code"], code, "{path}: {reply:?}");
    }
    for name in ["a/b", "a:b", "a@b", &"n".repeat(257)] {
        let reply = api
            .mlflow(
                "POST",
                "registered-models/create",
                Some(json!({"name": name})),
            )
            .await;
        assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    }
    for alias in ["latest", "v3", "a b", &"a".repeat(256)] {
        let reply = api
            .mlflow(
                "POST",
                "registered-models/alias",
                Some(json!({"name": "iris", "alias": alias, "version": "2"})),
            )
            .await;
        assert_error(&reply, 400, "INVALID_PARAMETER_VALUE");
    }
    let (_, versions) = api
        .mlflow(
            "GET",
            "model-versions/search?filter=name%3D%27iris%27",
            None,
        )
        .await;
    let numbers: Vec<&str> = versions["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["3", "2"], "nothing more was stored");
    // Deleting the registered model deletes its versions.
    let reply = api
        .mlflow(
            "DELETE",
            "registered-models/delete",
            Some(json!({"name": "iris"})),
        )
        .await;
    assert_eq!(reply.0, 200);
    let (_, versions) = api.mlflow("GET", "model-versions/search", None).await;
    assert_eq!(versions, json!({}));
}

/// Logged and registered models survive a restart, and searches (served from memory) see
/// them, renamed names included.
#[tokio::test]
async fn models_and_the_registry_survive_a_restart() {
    let server = TestServer::start().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let model = create(&api, json!({"experiment_id": "0", "name": "kept"})).await;
    let id = model["info"]["model_id"].as_str().unwrap().to_owned();
    for (path, body) in [
        ("registered-models/create", json!({"name": "before"})),
        (
            "model-versions/create",
            json!({"name": "before", "source": format!("models:/{id}")}),
        ),
        (
            "registered-models/rename",
            json!({"name": "before", "new_name": "after"}),
        ),
    ] {
        let reply = api.mlflow("POST", path, Some(body)).await;
        assert_eq!(reply.0, 200, "{path}: {reply:?}");
    }
    let server = server.restart().await;
    let api = Api {
        addr: server.handle.addr(),
    };
    let (_, found) = api
        .mlflow(
            "POST",
            "logged-models/search",
            Some(json!({"experiment_ids": ["0"]})),
        )
        .await;
    assert_eq!(found["models"][0]["info"]["model_id"], id.as_str());
    let (_, found) = api.mlflow("GET", "registered-models/search", None).await;
    let names: Vec<&str> = found["registered_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["after"]);
    let (status, v) = api
        .mlflow("GET", "model-versions/get?name=after&version=1", None)
        .await;
    assert_eq!(status, 200, "{v}");
}

/// The same operations over gRPC (`trackd.v1.ModelService`): a logged model's life, the
/// registry with an alias, and errors as gRPC codes.
#[tokio::test]
async fn models_and_the_registry_over_grpc() {
    use trackd_proto::v1 as pb;
    use trackd_proto::v1::model_service_client::ModelServiceClient;
    let server = TestServer::start().await;
    let mut c = ModelServiceClient::new(channel(&server.handle.url()).await);
    let model = c
        .create_logged_model(pb::CreateLoggedModelRequest {
            experiment_id: "0".into(),
            name: "clf".into(),
            params: vec![pb::ModelKeyValue {
                key: "C".into(),
                value: "1".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(
        model.status,
        pb::LoggedModelStatus::LoggedModelPending as i32
    );
    let ready = c
        .finalize_logged_model(pb::FinalizeLoggedModelRequest {
            model_id: model.model_id.clone(),
            status: pb::LoggedModelStatus::LoggedModelReady as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .model
        .unwrap();
    assert_eq!(ready.status, pb::LoggedModelStatus::LoggedModelReady as i32);
    let found = c
        .search_logged_models(pb::SearchLoggedModelsRequest {
            experiment_ids: vec!["0".into()],
            filter: "params.C = '1'".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.models.len(), 1);
    assert_eq!(found.models[0].model_id, model.model_id);

    c.create_registered_model(pb::CreateRegisteredModelRequest {
        name: "clf".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let v = c
        .create_model_version(pb::CreateModelVersionRequest {
            name: "clf".into(),
            source: format!("models:/{}", model.model_id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .model_version
        .unwrap();
    assert_eq!(
        (v.version, v.model_id.as_str()),
        (1, model.model_id.as_str())
    );
    assert_eq!(v.storage_location, model.artifact_uri);
    c.set_alias(pb::SetAliasRequest {
        name: "clf".into(),
        alias: "prod".into(),
        version: 1,
    })
    .await
    .unwrap();
    let by_alias = c
        .get_model_version_by_alias(pb::AliasRequest {
            name: "clf".into(),
            alias: "prod".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .model_version
        .unwrap();
    assert_eq!(by_alias.aliases, ["prod"]);

    let missing = c
        .get_logged_model(pb::GetLoggedModelRequest {
            model_id: format!("m-{}", "0".repeat(32)),
            allow_deleted: false,
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);
    let bad_version = c
        .get_model_version(pb::ModelVersionRequest {
            name: "clf".into(),
            version: 0,
        })
        .await;
    assert_eq!(
        bad_version.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    let bad_alias = c
        .set_alias(pb::SetAliasRequest {
            name: "clf".into(),
            alias: "latest".into(),
            version: 1,
        })
        .await;
    assert_eq!(bad_alias.unwrap_err().code(), tonic::Code::InvalidArgument);
    let flip = c
        .finalize_logged_model(pb::FinalizeLoggedModelRequest {
            model_id: model.model_id.clone(),
            status: pb::LoggedModelStatus::LoggedModelUploadFailed as i32,
        })
        .await;
    assert_eq!(flip.unwrap_err().code(), tonic::Code::InvalidArgument);
}
