//! Authentication and permissions against a real server with `--auth` (the Tracker's
//! `with_auth`), over the network: REST with raw HTTP, gRPC with the Rust client carrying
//! credentials, and the stock Python client with MLflow's credential variables.

mod common;

use std::net::SocketAddr;

use trackd_client::{Client, Credentials, IngestConfig};
use trackd_server::auth::credentials::basic_header;
use trackd_server::domain::access::{Level, Resource};
use trackd_server::domain::Caller;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::{Store, StoreConfig, Tracker};

const ADMIN: (&str, &str) = ("root", "root-password");
const ANN: (&str, &str) = ("ann", "ann-password");
const BOB: (&str, &str) = ("bob", "bob-password");

struct AuthServer {
    handle: ServerHandle,
    _dir: tempfile::TempDir,
}

impl AuthServer {
    async fn start(default: Level) -> AuthServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let tracker = Tracker::open(store).unwrap().with_auth(default).unwrap();
        for ((name, password), admin) in [(ADMIN, true), (ANN, false), (BOB, false)] {
            tracker
                .create_user(&Caller::InProcess, name, password, admin)
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handle = ServerHandle::start_on(listener, tracker, ServeOptions::default()).unwrap();
        AuthServer { handle, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    fn tracker(&self) -> &Tracker {
        self.handle.tracker()
    }

    async fn client(&self, (user, password): (&str, &str)) -> Client {
        Client::connect_with_credentials(
            &self.handle.url(),
            IngestConfig::default(),
            Credentials::basic(user, password).unwrap(),
        )
        .await
        .unwrap()
    }

    /// The status of a REST call as `user`.
    async fn status(&self, user: (&str, &str), method: &str, path: &str, body: &str) -> u16 {
        self.rest(Some(user), method, path, body).await.0
    }

    /// A REST call as `user` (None: anonymous); status and JSON body.
    async fn rest(
        &self,
        user: Option<(&str, &str)>,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let auth = user.map(|(u, p)| basic_header(u, p));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|v| vec![("Authorization", v)])
            .unwrap_or_default();
        let (status, raw) = common::http_with(
            self.addr(),
            method,
            path,
            &headers,
            (!body.is_empty()).then_some("application/json"),
            body.as_bytes(),
        )
        .await;
        (
            status,
            serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null),
        )
    }
}

fn code_of(err: trackd_client::ClientError) -> String {
    err.error_code().unwrap_or("none").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_and_wrong_credentials_are_refused_everywhere_but_health() {
    let server = AuthServer::start(Level::Read).await;
    for path in [
        "/api/2.0/mlflow/experiments/search?max_results=5",
        "/metrics",
        "/version",
        "/",
        "/api/2.0/mlflow-artifacts/artifacts?path=0",
    ] {
        let (status, body) = server.rest(None, "GET", path, "").await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error_code"], "UNAUTHENTICATED", "{path}");
    }
    let (status, _) = common::http(server.addr(), "GET", "/health", None, b"").await;
    assert_eq!(status, 200);
    let (status, body) = server
        .rest(
            Some(("ann", "not-her-password")),
            "GET",
            "/api/2.0/mlflow/experiments/search?max_results=5",
            "",
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    // gRPC: no credentials, and wrong ones.
    let anonymous = Client::connect_with_credentials(
        &server.handle.url(),
        IngestConfig::default(),
        Credentials::none(),
    )
    .await
    .unwrap();
    let err = anonymous.get_experiment("0").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
    let wrong = server.client(("bob", "guess")).await;
    let err = wrong.get_experiment("0").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
    // Health over gRPC stays open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        common::channel(&server.handle.url()).await,
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_can_search_and_download_but_not_write() {
    let server = AuthServer::start(Level::Read).await;
    let ann = server.client(ANN).await;
    let experiment = ann.create_experiment("anns").await.unwrap();
    let run = ann
        .start_run()
        .experiment_id(&experiment)
        .start()
        .await
        .unwrap();
    run.log_param("lr", 0.1).await.unwrap();
    run.log_metric("loss", 0.5, 0).await.unwrap();
    let file = server._dir.path().join("weights.bin");
    std::fs::write(&file, b"w").unwrap();
    run.log_artifact(&file, None).await.unwrap();
    run.flush().await.unwrap();
    let run_id = run.id().to_owned();

    let bob = server.client(BOB).await;
    // Reading is allowed (default READ).
    assert_eq!(bob.get_run(&run_id).await.unwrap().data.params["lr"], "0.1");
    let found = bob
        .search_runs()
        .experiments([experiment.clone()])
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(bob.metric_history(&run_id, "loss").await.unwrap().len(), 1);
    let out = tempfile::tempdir().unwrap();
    bob.download_artifacts(&run_id, "weights.bin", out.path())
        .await
        .unwrap();
    // Writing is not.
    let err = bob
        .log_params_and_tags(&run_id, vec![("x".into(), "1".into())], vec![])
        .await
        .unwrap_err();
    assert_eq!(code_of(err), "PERMISSION_DENIED");
    assert_eq!(
        code_of(bob.delete_run(&run_id).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        code_of(
            bob.log_artifact(&run_id, &file, Some("stolen"))
                .await
                .unwrap_err()
        ),
        "PERMISSION_DENIED"
    );
    // Streamed points to a run bob may not edit are refused (reported at flush).
    bob.log_metric(&run_id, "loss", 9.0, 1, 0).await.unwrap();
    assert_eq!(code_of(bob.flush().await.unwrap_err()), "PERMISSION_DENIED");
    assert_eq!(ann.metric_history(&run_id, "loss").await.unwrap().len(), 1);
    // Over REST, MLflow's JSON with 403.
    let body = format!(r#"{{"run_id":"{run_id}","key":"y","value":"1"}}"#);
    let (status, json) = server
        .rest(
            Some(BOB),
            "POST",
            "/api/2.0/mlflow/runs/log-parameter",
            &body,
        )
        .await;
    assert_eq!(
        (status, json["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    run.finish().await.unwrap();
    // The creator manages their experiment; bob (READ) may not delete it, an admin may.
    let (status, _) = server
        .rest(
            Some(BOB),
            "POST",
            "/api/2.0/mlflow/experiments/delete",
            &format!(r#"{{"experiment_id":"{experiment}"}}"#),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .rest(
            Some(ADMIN),
            "POST",
            "/api/2.0/mlflow/experiments/delete",
            &format!(r#"{{"experiment_id":"{experiment}"}}"#),
        )
        .await;
    assert_eq!(status, 200);
    // Whole-store operations are administrators'.
    assert_eq!(
        code_of(bob.backup("b1").await.unwrap_err()),
        "PERMISSION_DENIED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_default_none_another_users_experiment_is_invisible_until_granted() {
    let server = AuthServer::start(Level::NoPermissions).await;
    let ann = server.client(ANN).await;
    let experiment = ann.create_experiment("private").await.unwrap();
    let run = ann
        .start_run()
        .experiment_id(&experiment)
        .start()
        .await
        .unwrap();
    let run_id = run.id().to_owned();
    run.finish().await.unwrap();

    let bob = server.client(BOB).await;
    let names: Vec<String> = bob
        .search_experiments("")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(!names.contains(&"private".to_owned()), "{names:?}");
    assert!(bob
        .search_runs()
        .experiments([experiment.clone()])
        .all()
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        code_of(bob.get_experiment(&experiment).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        code_of(bob.get_run(&run_id).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    let (status, _) = server
        .rest(Some(BOB), "GET", &format!("/experiments/{experiment}"), "")
        .await;
    assert_eq!(status, 403, "the UI page");
    let (status, json) = server
        .rest(
            Some(BOB),
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name?experiment_name=private",
            "",
        )
        .await;
    assert_eq!(
        (status, json["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    // The admin sees everything.
    let admin = server.client(ADMIN).await;
    assert_eq!(
        admin.get_experiment(&experiment).await.unwrap().name,
        "private"
    );
    // A grant takes effect at once (no stale cached decision).
    server
        .tracker()
        .set_grant(
            &Caller::InProcess,
            Resource::Experiment(experiment.clone()),
            "bob",
            Some(Level::Read),
        )
        .await
        .unwrap();
    assert_eq!(
        bob.get_experiment(&experiment).await.unwrap().name,
        "private"
    );
    assert_eq!(
        bob.search_runs()
            .experiments([experiment.clone()])
            .all()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_at_once() {
    let server = AuthServer::start(Level::Read).await;
    let (record, token) = server
        .tracker()
        .create_token(&Caller::InProcess, "ann", "ci")
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let get = |header: String| {
        let addr = server.addr();
        async move {
            common::http_with(
                addr,
                "GET",
                "/api/2.0/mlflow/experiments/get?experiment_id=0",
                &[("Authorization", &header)],
                None,
                b"",
            )
            .await
            .0
        }
    };
    assert_eq!(get(bearer.clone()).await, 200);
    assert_eq!(get(bearer.clone()).await, 200, "cached");
    let via_client = Client::connect_with_credentials(
        &server.handle.url(),
        IngestConfig::default(),
        Credentials::token(&token).unwrap(),
    )
    .await
    .unwrap();
    via_client.get_experiment("0").await.unwrap();
    server
        .tracker()
        .revoke_token(&Caller::InProcess, &record.id)
        .await
        .unwrap();
    assert_eq!(get(bearer.clone()).await, 401);
    assert_eq!(
        via_client.get_experiment("0").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // A token with a wrong secret for a real id is refused too.
    let (record, token) = server
        .tracker()
        .create_token(&Caller::InProcess, "ann", "")
        .await
        .unwrap();
    let forged = format!("Bearer trk_{}_{}", record.id, "0".repeat(32));
    assert_ne!(forged, format!("Bearer {token}"));
    assert_eq!(get(forged).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_python_client_logs_with_a_password_and_with_a_token() {
    let Some(python) = common::usable_python("import mlflow") else {
        return;
    };
    let server = AuthServer::start(Level::Read).await;
    let (_, token) = server
        .tracker()
        .create_token(&Caller::InProcess, "ann", "python")
        .await
        .unwrap();
    let script = r#"
import os, mlflow
# The default experiment is READ for users (MLflow's default permission): ann works in
# her own experiment, which she MANAGEs as its creator.
mlflow.set_experiment("ann-python")
with mlflow.start_run() as run:
    mlflow.log_param("p", 1)
    mlflow.log_metric("m", 2.0)
got = mlflow.get_run(run.info.run_id)
assert got.data.params == {"p": "1"} and got.data.metrics == {"m": 2.0}, got.data
print("ok as", os.environ.get("MLFLOW_TRACKING_USERNAME") or "token")
"#;
    let url = server.handle.url();
    for env in [
        vec![
            ("MLFLOW_TRACKING_USERNAME", ANN.0),
            ("MLFLOW_TRACKING_PASSWORD", ANN.1),
        ],
        vec![("MLFLOW_TRACKING_TOKEN", token.as_str())],
    ] {
        let out = tokio::process::Command::new(&python)
            .args(["-c", script])
            .env("MLFLOW_TRACKING_URI", &url)
            .envs(env)
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success() && text.contains("ok as"), "{text}");
    }
    // A wrong password fails with MLflow's error.
    let out = tokio::process::Command::new(&python)
        .args(["-c", "import mlflow\ntry:\n    mlflow.search_experiments()\nexcept Exception as e:\n    print('refused', e)\n"])
        .env("MLFLOW_TRACKING_URI", &url)
        .env("MLFLOW_TRACKING_USERNAME", "ann")
        .env("MLFLOW_TRACKING_PASSWORD", "wrong-password")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("refused UNAUTHENTICATED"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflows_auth_client_manages_users_and_permissions() {
    let Some(python) = common::usable_python("import mlflow.server.auth.client") else {
        return;
    };
    let server = AuthServer::start(Level::NoPermissions).await;
    let ann = server.client(ANN).await;
    let experiment = ann.create_experiment("shared-later").await.unwrap();
    let script = format!(
        r#"
import mlflow
from mlflow.server import get_app_client
from mlflow.exceptions import RestException
c = get_app_client("basic-auth", tracking_uri="{url}")
u = c.create_user("carol", "carol-password")
assert u.username == "carol" and not u.is_admin, u
assert c.get_user("carol").username == "carol"
c.update_user_admin("carol", True)
assert c.get_user("carol").is_admin
c.update_user_admin("carol", False)
c.update_user_password("carol", "carol-password-2")
c.grant_user_permission("carol", "experiment", "{experiment}", "READ")
p = c.get_user_permission("carol", "experiment", "{experiment}")
assert p.allowed and p.permission == "READ", (p.allowed, p.permission)
try:
    c.create_user("carol", "another-password")
    raise AssertionError("a taken name must fail")
except RestException as e:
    assert e.error_code == "RESOURCE_ALREADY_EXISTS", e.error_code
print("admin part ok")
"#,
        url = server.handle.url()
    );
    let run = |script: String, user: (&'static str, &'static str)| {
        let python = python.clone();
        let url = server.handle.url();
        async move {
            let out = tokio::process::Command::new(&python)
                .args(["-c", &script])
                .env("MLFLOW_TRACKING_URI", &url)
                .env("MLFLOW_TRACKING_USERNAME", user.0)
                .env("MLFLOW_TRACKING_PASSWORD", user.1)
                .output()
                .await
                .unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        }
    };
    let text = run(script, ADMIN).await;
    assert!(text.contains("admin part ok"), "{text}");
    // carol (new password) now reads the granted experiment, and nothing else of ann's.
    let carol = server.client(("carol", "carol-password-2")).await;
    assert_eq!(
        carol.get_experiment(&experiment).await.unwrap().name,
        "shared-later"
    );
    let old = server.client(("carol", "carol-password")).await;
    assert_eq!(
        old.get_experiment(&experiment).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // A user may not create users; ann (MANAGE, the creator) may grant on her experiment.
    let text = run(
        format!(
            r#"
from mlflow.server import get_app_client
from mlflow.exceptions import RestException
c = get_app_client("basic-auth", tracking_uri="{url}")
try:
    c.create_user("mallory", "mallory-password")
    raise AssertionError("only admins create users")
except RestException as e:
    assert e.error_code == "PERMISSION_DENIED", e.error_code
c.grant_user_permission("bob", "experiment", "{experiment}", "EDIT")
c.revoke_user_permission("carol", "experiment", "{experiment}")
print("user part ok")
"#,
            url = server.handle.url()
        ),
        ANN,
    )
    .await;
    assert!(text.contains("user part ok"), "{text}");
    assert_eq!(
        code_of(carol.get_experiment(&experiment).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    let bob = server.client(BOB).await;
    bob.start_run()
        .experiment_id(&experiment)
        .start()
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    // Deleting a user ends their access at once.
    assert_eq!(
        server
            .status(
                ADMIN,
                "DELETE",
                "/api/2.0/mlflow/users/delete",
                r#"{"username":"carol"}"#
            )
            .await,
        200
    );
    assert_eq!(
        carol.get_experiment("0").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked_over_rest() {
    let server = AuthServer::start(Level::Read).await;
    let (status, made) = server
        .rest(
            Some(ANN),
            "POST",
            "/api/2.0/trackd/tokens/create",
            r#"{"description":"laptop"}"#,
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("trk_{id}_")));
    let (status, listed) = server
        .rest(Some(ANN), "GET", "/api/2.0/trackd/tokens/list", "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["tokens"][0]["id"], id.as_str());
    assert!(
        listed.to_string().find(&token).is_none(),
        "the secret is never listed"
    );
    // bob may not revoke ann's token; ann may.
    let body = format!(r#"{{"id":"{id}"}}"#);
    assert_eq!(
        server
            .status(BOB, "POST", "/api/2.0/trackd/tokens/revoke", &body)
            .await,
        403
    );
    let client = Client::connect_with_credentials(
        &server.handle.url(),
        IngestConfig::default(),
        Credentials::token(&token).unwrap(),
    )
    .await
    .unwrap();
    client.get_experiment("0").await.unwrap();
    assert_eq!(
        server
            .status(ANN, "POST", "/api/2.0/trackd/tokens/revoke", &body)
            .await,
        200
    );
    assert_eq!(
        client.get_experiment("0").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
}

/// Every gRPC method of every service in trackd's descriptor set, and every route written in
/// the server's source (under each API prefix, path parameters filled in), refuses an
/// anonymous caller with `UNAUTHENTICATED` — only health checks are open. A route or RPC
/// added later is covered without touching this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_and_every_route_refuses_an_anonymous_caller() {
    use prost::Message;
    let server = AuthServer::start(Level::Read).await;

    // gRPC: one call per method, an empty message (the refusal comes before decoding).
    let set = prost_types::FileDescriptorSet::decode(trackd_proto::FILE_DESCRIPTOR_SET).unwrap();
    let channel = common::channel(&server.handle.url()).await;
    let mut methods = 0;
    for file in &set.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            for method in &service.method {
                let path: tonic::codegen::http::uri::PathAndQuery =
                    format!("/{full}/{}", method.name()).parse().unwrap();
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready().await.unwrap();
                let status = grpc
                    .unary(
                        tonic::Request::new(bytes::Bytes::new()),
                        path.clone(),
                        trackd_proto::codec::PreEncodedCodec::<()>::default(),
                    )
                    .await
                    .unwrap_err();
                assert_eq!(
                    status.code(),
                    tonic::Code::Unauthenticated,
                    "{path}: {status:?}"
                );
                methods += 1;
            }
        }
    }
    assert!(methods >= 40, "only {methods} methods found");

    // REST, the artifact proxy and the UI: every `.route("…")` literal in server/src.
    let mut paths = std::collections::BTreeSet::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + 7..];
                let literal = rest.trim_start();
                if let Some(stripped) = literal.strip_prefix('"') {
                    let route = &stripped[..stripped.find('"').unwrap()];
                    // Fill path parameters (`{id}`, `{*path}`) with a value.
                    let filled: String = route
                        .split('/')
                        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                        .collect::<Vec<_>>()
                        .join("/");
                    paths.insert(filled);
                }
            }
        }
    }
    assert!(paths.len() >= 60, "only {} routes found", paths.len());
    let prefixes = [
        "",
        "/api/2.0/mlflow",
        "/ajax-api/2.0/mlflow",
        "/api/2.0/mlflow-artifacts",
        "/api/3.0/mlflow",
        "/api/2.0/trackd",
    ];
    let mut checked = 0;
    for route in &paths {
        for prefix in prefixes {
            let path = format!("{prefix}{route}");
            if trackd_server::identity::is_open_path(&path) {
                continue;
            }
            for method in ["GET", "POST"] {
                let (status, body) = server.rest(None, method, &path, "").await;
                assert_eq!(status, 401, "{method} {path}");
                assert_eq!(body["error_code"], "UNAUTHENTICATED", "{method} {path}");
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_models_have_their_own_grants() {
    let server = AuthServer::start(Level::NoPermissions).await;
    let create = |user, name: &str| {
        let body = format!(r#"{{"name":"{name}"}}"#);
        let server = &server;
        async move {
            server
                .rest(
                    Some(user),
                    "POST",
                    "/api/2.0/mlflow/registered-models/create",
                    &body,
                )
                .await
        }
    };
    let get = |user, name: &str| {
        let path = format!("/api/2.0/mlflow/registered-models/get?name={name}");
        let server = &server;
        async move { server.rest(Some(user), "GET", &path, "").await }
    };
    let search = |user| {
        let server = &server;
        async move {
            let (_, json) = server
                .rest(
                    Some(user),
                    "GET",
                    "/api/2.0/mlflow/registered-models/search",
                    "",
                )
                .await;
            json["registered_models"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["name"].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    // Any user may create a model and manages it; others (default none) cannot see it.
    assert_eq!(create(ANN, "iris").await.0, 200);
    assert_eq!(get(ANN, "iris").await.0, 200);
    let (status, json) = get(BOB, "iris").await;
    assert_eq!(
        (status, json["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    assert!(search(BOB).await.is_empty());
    // ann grants bob READ (MLflow's v3 grant with resource_type registered_model).
    let grant = r#"{"username":"bob","resource_type":"registered_model","resource_id":"iris","permission":"READ"}"#;
    let (status, body) = server
        .rest(
            Some(ANN),
            "POST",
            "/api/3.0/mlflow/users/permissions/grant",
            grant,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(BOB, "iris").await.0, 200);
    assert_eq!(search(BOB).await, vec!["iris".to_owned()]);
    // READ does not allow deleting.
    assert_eq!(
        server
            .status(
                BOB,
                "DELETE",
                "/api/2.0/mlflow/registered-models/delete",
                r#"{"name":"iris"}"#
            )
            .await,
        403
    );
    // A rename carries the grants; a delete clears them, so a new model of the old name is
    // not readable by bob.
    assert_eq!(
        server
            .status(
                ANN,
                "POST",
                "/api/2.0/mlflow/registered-models/rename",
                r#"{"name":"iris","new_name":"iris2"}"#
            )
            .await,
        200
    );
    assert_eq!(get(BOB, "iris2").await.0, 200);
    assert_eq!(
        server
            .status(
                ANN,
                "DELETE",
                "/api/2.0/mlflow/registered-models/delete",
                r#"{"name":"iris2"}"#
            )
            .await,
        200
    );
    assert_eq!(create(ADMIN, "iris2").await.0, 200);
    assert_eq!(get(BOB, "iris2").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked_over_grpc() {
    let server = AuthServer::start(Level::Read).await;
    let ann = server.client(ANN).await;
    let (info, token) = ann.create_token(None, "ci runner").await.unwrap();
    assert_eq!(
        (info.username.as_str(), info.description.as_str()),
        ("ann", "ci runner")
    );
    assert!(token.starts_with(&format!("trk_{}_", info.id)));
    let listed = ann.list_tokens(None).await.unwrap();
    assert_eq!(listed, vec![info.clone()]);
    // bob may neither list nor mint ann's tokens; the admin may.
    let bob = server.client(BOB).await;
    assert_eq!(
        code_of(bob.list_tokens(Some("ann")).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        code_of(bob.create_token(Some("ann"), "x").await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    let admin = server.client(ADMIN).await;
    assert_eq!(admin.list_tokens(Some("ann")).await.unwrap().len(), 1);
    // The token works until revoked, then not at all.
    let with_token = Client::connect_with_credentials(
        &server.handle.url(),
        IngestConfig::default(),
        Credentials::token(&token).unwrap(),
    )
    .await
    .unwrap();
    with_token.get_experiment("0").await.unwrap();
    assert_eq!(
        code_of(bob.revoke_token(&info.id).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    ann.revoke_token(&info.id).await.unwrap();
    assert_eq!(
        with_token.get_experiment("0").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert!(ann.list_tokens(None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_logs_in_with_a_session_cookie_and_out() {
    let server = AuthServer::start(Level::Read).await;
    let addr = server.addr();
    let browser = [
        ("Accept", "text/html"),
        ("Host", "localhost"),
        ("Origin", "http://localhost"),
    ];
    let header_value = |headers: &str, name: &str| {
        headers
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    };
    // A browser without a session is sent to the login page, which is open.
    let (status, headers, _) =
        common::http_exchange(addr, "GET", "/experiments/0?view=all", &browser, None, b"").await;
    assert_eq!(status, 303);
    assert_eq!(
        header_value(&headers, "location").as_deref(),
        Some("/login?next=%2Fexperiments%2F0%3Fview%3Dall")
    );
    let (status, _, page) = common::http_exchange(
        addr,
        "GET",
        "/login?next=/experiments/0",
        &browser,
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("name=\"password\""));
    // A wrong password: the form again, 401, with the reason.
    let form = "application/x-www-form-urlencoded";
    let (status, _, page) = common::http_exchange(
        addr,
        "POST",
        "/login",
        &browser,
        Some(form),
        b"username=ann&password=nope&next=%2F",
    )
    .await;
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&page).contains("Invalid credentials"));
    // The right one: a session cookie and the page asked for (never another site).
    let (status, headers, _) = common::http_exchange(
        addr,
        "POST",
        "/login",
        &browser,
        Some(form),
        b"username=ann&password=ann-password&next=%2F%2Fevil.example%2F",
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(header_value(&headers, "location").as_deref(), Some("/"));
    let cookie = header_value(&headers, "set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_session = [
        ("Accept", "text/html"),
        ("Cookie", session.as_str()),
        ("Host", "localhost"),
        ("Origin", "http://localhost"),
    ];
    let (status, _, page) = common::http_exchange(addr, "GET", "/", &with_session, None, b"").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("Log out"));
    // The session is a caller like any other: ann's permissions apply (READ on Default).
    // (UI forms answer with a redirect carrying the error.)
    let (status, headers, _) = common::http_exchange(
        addr,
        "POST",
        "/experiments/0/delete",
        &with_session,
        Some(form),
        b"",
    )
    .await;
    assert_eq!(status, 303);
    let location = header_value(&headers, "location").unwrap();
    assert!(location.contains("error=Permission"), "{location}");
    // Logging out ends it.
    let (status, headers, _) =
        common::http_exchange(addr, "POST", "/logout", &with_session, Some(form), b"").await;
    assert_eq!(status, 303);
    assert!(header_value(&headers, "set-cookie")
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _, _) = common::http_exchange(addr, "GET", "/", &with_session, None, b"").await;
    assert_eq!(status, 303, "back to the login page");
    // A deleted user's session ends at once.
    let (_, headers, _) = common::http_exchange(
        addr,
        "POST",
        "/login",
        &browser,
        Some(form),
        b"username=bob&password=bob-password",
    )
    .await;
    let bob = header_value(&headers, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let bob_headers = [("Accept", "text/html"), ("Cookie", bob.as_str())];
    assert_eq!(
        common::http_exchange(addr, "GET", "/", &bob_headers, None, b"")
            .await
            .0,
        200
    );
    server
        .tracker()
        .delete_user(&Caller::InProcess, "bob")
        .await
        .unwrap();
    assert_eq!(
        common::http_exchange(addr, "GET", "/", &bob_headers, None, b"")
            .await
            .0,
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflows_v2_registered_model_permission_routes_work() {
    let server = AuthServer::start(Level::NoPermissions).await;
    assert_eq!(
        server
            .status(
                ANN,
                "POST",
                "/api/2.0/mlflow/registered-models/create",
                r#"{"name":"m1"}"#
            )
            .await,
        200
    );
    let grant = r#"{"name":"m1","username":"bob","permission":"EDIT"}"#;
    let (status, json) = server
        .rest(
            Some(ANN),
            "POST",
            "/api/2.0/mlflow/registered-models/permissions/create",
            grant,
        )
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["registered_model_permission"]["permission"], "EDIT");
    let (status, json) = server
        .rest(
            Some(ANN),
            "GET",
            "/api/2.0/mlflow/registered-models/permissions/get?name=m1&username=bob",
            "",
        )
        .await;
    assert_eq!(
        (status, json["registered_model_permission"]["name"].as_str()),
        (200, Some("m1"))
    );
    assert_eq!(
        server
            .status(
                BOB,
                "GET",
                "/api/2.0/mlflow/registered-models/get?name=m1",
                ""
            )
            .await,
        200
    );
    assert_eq!(
        server
            .status(
                ANN,
                "DELETE",
                "/api/2.0/mlflow/registered-models/permissions/delete",
                r#"{"name":"m1","username":"bob"}"#
            )
            .await,
        200
    );
    assert_eq!(
        server
            .status(
                BOB,
                "GET",
                "/api/2.0/mlflow/registered-models/get?name=m1",
                ""
            )
            .await,
        403
    );
}

/// Every route written in the server's source, called by a user without any permission
/// (`--default-permission none`) with another user's experiment, run and model named in the
/// query string, the JSON body and the path, with every method: no answer carries anything
/// of theirs the caller did not send, and afterwards nothing of theirs has changed and no
/// permission was gained. A route added later is swept without touching this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_permission_can_neither_read_nor_change_another_users_things() {
    let server = AuthServer::start(Level::NoPermissions).await;
    let ann = server.client(ANN).await;
    let experiment = ann.create_experiment("ann-secret-exp").await.unwrap();
    let run = ann
        .start_run()
        .experiment_id(&experiment)
        .run_name("ann-secret-run")
        .start()
        .await
        .unwrap();
    run.log_param("p", "ann-secret-param-value").await.unwrap();
    run.log_metric("ann-secret-metric", 1.0, 0).await.unwrap();
    let file = server._dir.path().join("model.txt");
    std::fs::write(&file, b"ann-secret-file").unwrap();
    run.log_artifact(&file, Some("model")).await.unwrap();
    run.flush().await.unwrap();
    let run_id = run.id().to_owned();
    ann.register_model(&format!("runs:/{run_id}/model"), "annmodel")
        .await
        .unwrap();
    assert_eq!(
        server
            .status(
                ANN,
                "PATCH",
                "/api/2.0/mlflow/registered-models/update",
                r#"{"name":"annmodel","description":"ann-secret-description"}"#
            )
            .await,
        200
    );
    let markers = [
        "ann-secret-exp",
        "ann-secret-run",
        "ann-secret-param-value",
        "ann-secret-metric",
        "ann-secret-description",
        "ann-secret-file",
    ];

    // Every route literal of the server, with its path parameters aimed at ann's things.
    let mut routes = std::collections::BTreeSet::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + 7..];
                if let Some(stripped) = rest.trim_start().strip_prefix('"') {
                    routes.insert(stripped[..stripped.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    let fill = |route: &str| -> String {
        route
            .split('/')
            .map(|seg| match seg {
                s if s.starts_with("{*") => format!("{experiment}/{run_id}/artifacts/stolen.txt"),
                "{id}" if route.starts_with("/runs") => run_id.clone(),
                "{id}" => experiment.clone(),
                "{name}" => "annmodel".to_owned(),
                s if s.starts_with('{') => "x".to_owned(),
                s => s.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let query = format!(
        "experiment_id={experiment}&run_id={run_id}&run_uuid={run_id}&name=annmodel&experiment_ids={experiment}&key=p&path=model&username=ann&version=1&filter=&model_id=x"
    );
    let body = format!(
        r#"{{"experiment_id":"{experiment}","run_id":"{run_id}","run_uuid":"{run_id}","experiment_ids":["{experiment}"],"name":"annmodel","new_name":"stolen","key":"p","value":"stolen","username":"bob","permission":"MANAGE","resource_type":"experiment","resource_id":"{experiment}","source":"runs:/{run_id}/model","version":"1","alias":"stolen","description":"stolen","params":[{{"key":"p","value":"stolen"}}],"tags":[{{"key":"stolen","value":"1"}}],"metrics":[{{"key":"stolen","value":1,"timestamp":0,"step":0}}]}}"#
    );
    let prefixes = [
        "",
        "/api/2.0/mlflow",
        "/ajax-api/2.0/mlflow",
        "/api/2.0/mlflow-artifacts",
        "/api/3.0/mlflow",
        "/api/2.0/trackd",
    ];
    let auth = basic_header(BOB.0, BOB.1);
    let mut calls = 0;
    for route in &routes {
        let filled = fill(route);
        for prefix in prefixes {
            for method in ["GET", "POST", "PATCH", "DELETE", "PUT"] {
                let path = format!("{prefix}{filled}?{query}");
                let form = if prefix.is_empty() {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                };
                let sent = if prefix.is_empty() {
                    "name=stolen&key=stolen&value=stolen".to_owned()
                } else {
                    body.clone()
                };
                let (status, answer) = common::http_with(
                    server.addr(),
                    method,
                    &path,
                    &[
                        ("Authorization", &auth),
                        ("Host", "localhost"),
                        ("Origin", "http://localhost"),
                    ],
                    Some(form),
                    sent.as_bytes(),
                )
                .await;
                let text = String::from_utf8_lossy(&answer);
                for marker in markers {
                    assert!(
                        !text.contains(marker),
                        "{method} {path} ({status}) leaked {marker}: {text}"
                    );
                }
                calls += 1;
            }
        }
    }
    assert!(calls > 1000, "{calls}");

    // And every gRPC method of the descriptor set, its top-level string fields aimed the
    // same way (`experiment_id`, `run_id`, `name`, …).
    let grpc_calls = grpc_sweep(&server, &experiment, &run_id, &markers).await;
    assert!(grpc_calls >= 40, "{grpc_calls}");

    // Nothing of ann's changed, and bob gained nothing.
    let admin = server.client(ADMIN).await;
    let exp = admin.get_experiment(&experiment).await.unwrap();
    assert_eq!((exp.name.as_str(), exp.deleted), ("ann-secret-exp", false));
    let got = admin.get_run(&run_id).await.unwrap();
    assert!(!got.info.deleted);
    assert_eq!(got.info.run_name, "ann-secret-run");
    assert_eq!(
        got.data.params.get("p").map(String::as_str),
        Some("ann-secret-param-value")
    );
    assert_eq!(
        got.data.metrics.keys().collect::<Vec<_>>(),
        vec!["ann-secret-metric"]
    );
    assert!(!got.data.tags.contains_key("stolen"));
    let files: Vec<String> = admin
        .list_artifacts(&run_id, "", true)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(!files.iter().any(|f| f.contains("stolen")), "{files:?}");
    let (status, model) = server
        .rest(
            Some(ADMIN),
            "GET",
            "/api/2.0/mlflow/registered-models/get?name=annmodel",
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        model["registered_model"]["description"],
        "ann-secret-description"
    );
    assert!(
        model["registered_model"]["aliases"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{model}"
    );
    let bob = server.client(BOB).await;
    assert_eq!(
        code_of(bob.get_experiment(&experiment).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        code_of(bob.get_run(&run_id).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
}

/// Answers of any gRPC method as raw message bytes (the sweep looks for strings in them).
#[derive(Clone, Default)]
struct RawCodec;

struct RawDecoder;

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let len = buf.remaining();
        Ok(Some(buf.copy_to_bytes(len).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = Vec<u8>;
    type Encoder = trackd_proto::codec::BytesEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        trackd_proto::codec::BytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

/// Calls every method of trackd's services as `bob`, each request's top-level string fields
/// set to ann's ids; asserts no answer carries a marker. Returns the number of calls.
async fn grpc_sweep(
    server: &AuthServer,
    experiment: &str,
    run_id: &str,
    markers: &[&str],
) -> usize {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(trackd_proto::FILE_DESCRIPTOR_SET).unwrap();
    let messages: std::collections::HashMap<String, &prost_types::DescriptorProto> = set
        .file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", f.package(), m.name()), m))
        })
        .collect();
    let value_of = |field: &str| -> Option<&str> {
        Some(match field {
            "experiment_id" | "experiment_ids" => experiment,
            "run_id" | "run_uuid" | "source_run_id" => run_id,
            "name" => "annmodel",
            "new_name" => "stolen",
            "key" => "p",
            "value" => "stolen",
            "path" => "model",
            "model_id" => "x",
            "username" => "bob",
            "stream_id" => "sweep",
            "version" => "1",
            _ => return None,
        })
    };
    let channel = common::channel(&server.handle.url()).await;
    let auth: tonic::metadata::MetadataValue<_> = basic_header(BOB.0, BOB.1).parse().unwrap();
    let mut calls = 0;
    for file in &set.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            for method in &service.method {
                let input = messages[method.input_type()];
                let mut body = Vec::new();
                for field in &input.field {
                    let is_string =
                        field.r#type() == prost_types::field_descriptor_proto::Type::String;
                    if let (true, Some(value)) = (is_string, value_of(field.name())) {
                        prost::encoding::encode_key(
                            field.number() as u32,
                            prost::encoding::WireType::LengthDelimited,
                            &mut body,
                        );
                        prost::encoding::encode_varint(value.len() as u64, &mut body);
                        body.extend_from_slice(value.as_bytes());
                    }
                }
                let path: tonic::codegen::http::uri::PathAndQuery =
                    format!("/{full}/{}", method.name()).parse().unwrap();
                let mut request =
                    tonic::Request::new(futures::stream::iter(vec![bytes::Bytes::from(body)]));
                request.metadata_mut().insert("authorization", auth.clone());
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready().await.unwrap();
                let mut answer = Vec::new();
                if let Ok(response) = grpc.streaming(request, path.clone(), RawCodec).await {
                    let mut stream = response.into_inner();
                    while let Ok(Some(message)) = stream.message().await {
                        answer.extend_from_slice(&message);
                        if answer.len() > 1 << 20 {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&answer);
                for marker in markers {
                    assert!(!text.contains(marker), "{path} leaked {marker}");
                }
                calls += 1;
            }
        }
    }
    calls
}
