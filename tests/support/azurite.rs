//! A real Azure Blob Storage emulator for the `az://` artifact tests: Microsoft's Azurite
//! (npm `azurite`, installed by `.ci/run` with `@azure/storage-blob` under
//! `target/ci-tools/node`, named by `TRACKD_TEST_AZURITE`), started on 127.0.0.1 and a free
//! port with its data in memory and its telemetry off, stopped when dropped. Containers are
//! created and listed with Microsoft's own JavaScript client. Where the tools are not
//! required and Azurite is missing, [`Azurite::start`] returns `None` and says so on stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The emulator's well-known account and key (public: Azurite's documented defaults).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service.
pub struct Azurite {
    child: Child,
    modules: PathBuf,
    /// Its blob endpoint, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Azurite {
    /// Starts Azurite, or `None` where it is missing and not required.
    pub fn start() -> Option<Azurite> {
        let modules = std::env::var("TRACKD_TEST_AZURITE")
            .map(|d| PathBuf::from(d).join("node_modules"))
            .ok()
            .filter(|m| m.join(".bin/azurite-blob").exists());
        let Some(modules) = modules else {
            let required = std::env::var("CI").is_ok()
                || std::env::var("TRACKD_TEST_TOOLS").is_ok_and(|v| v == "required");
            assert!(
                !required,
                "Azurite is required (TRACKD_TEST_AZURITE, set by .ci/run)"
            );
            eprintln!("SKIPPED: no Azurite; run `bash .ci/run`");
            return None;
        };
        let mut child = Command::new(modules.join(".bin/azurite-blob"))
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("azurite printed where it listens")
                .unwrap();
            if let Some(at) = line.find("listens on ") {
                break line[at + "listens on ".len()..].trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Some(Azurite {
            child,
            modules,
            url,
        })
    }

    /// Runs a script with `@azure/storage-blob`'s `service` (a BlobServiceClient of this
    /// emulator) in scope; returns what it printed.
    fn script(&self, body: &str) -> String {
        let connection = format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};\
             BlobEndpoint={}/{ACCOUNT};",
            self.url
        );
        let program = format!(
            "const {{ BlobServiceClient }} = require('@azure/storage-blob');\n\
             const service = BlobServiceClient.fromConnectionString(process.env.CONN);\n\
             (async () => {{ {body} }})().catch(e => {{ console.error(e); process.exit(1); }});"
        );
        let out = Command::new("node")
            .args(["-e", &program])
            .env("NODE_PATH", &self.modules)
            .env("CONN", connection)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates a container.
    pub fn create_container(&self, name: &str) {
        self.script(&format!(
            "await service.getContainerClient('{name}').create();"
        ));
    }

    /// The blob names in a container, in order.
    pub fn blobs(&self, container: &str) -> Vec<String> {
        self.script(&format!(
            "for await (const b of service.getContainerClient('{container}').listBlobsFlat()) \
             console.log(b.name);"
        ))
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// The environment that points object_store's Azure client (and so `trackd server
    /// --artifacts-destination az://…`) at this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
            ("AZURITE_BLOB_STORAGE_URL", self.url.clone()),
        ]
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
