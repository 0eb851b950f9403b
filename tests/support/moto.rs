//! A real S3-compatible server for the object-store tests: moto's server mode (PyPI
//! `moto[server]`, installed by `.ci/run` into the tools venv), started on 127.0.0.1 and a
//! free port, stopped when dropped. Where the tools are not required and moto is missing,
//! [`Moto::start`] returns `None` and says so on stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

/// The credentials moto accepts (any), as the tests pass them.
pub const ACCESS_KEY: &str = "trackd-test";
pub const SECRET_KEY: &str = "trackd-test-secret";
pub const REGION: &str = "us-east-1";

impl Moto {
    /// Starts moto, or `None` where it is missing and not required.
    pub fn start() -> Option<Moto> {
        let python = crate::common::usable_python("import moto.server")?;
        let mut child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto");
        // Werkzeug announces the address (the port it was given) once it listens.
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let port: u16 = loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Running on http://127.0.0.1:") => {
                    let tail = &line[line.find("127.0.0.1:").unwrap() + 10..];
                    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
                    break digits.parse().expect("moto's port");
                }
                Some(Ok(line)) => seen.push(line),
                _ => {
                    let _ = child.kill();
                    panic!("moto did not start:\n{}", seen.join("\n"));
                }
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Some(Moto {
            child,
            addr: ([127, 0, 0, 1], port).into(),
        })
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates a bucket (moto takes unsigned requests).
    pub async fn create_bucket(&self, name: &str) {
        let (status, body) =
            crate::common::http(self.addr, "PUT", &format!("/{name}"), None, b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// The keys in a bucket under `prefix` (ListObjectsV2, first 1000).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let path = format!("/{bucket}?list-type=2&prefix={prefix}");
        let (status, body) = crate::common::http(self.addr, "GET", &path, None, b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let xml = String::from_utf8(body).unwrap();
        xml.split("<Key>")
            .skip(1)
            .map(|rest| rest[..rest.find("</Key>").unwrap()].to_owned())
            .collect()
    }

    /// Multipart uploads still open in a bucket.
    pub async fn open_uploads(&self, bucket: &str) -> usize {
        let (status, body) =
            crate::common::http(self.addr, "GET", &format!("/{bucket}?uploads"), None, b"").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        String::from_utf8(body)
            .unwrap()
            .matches("<UploadId>")
            .count()
    }

    /// The object-store options of a destination in this moto.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint()),
            ("aws_access_key_id", ACCESS_KEY.to_owned()),
            ("aws_secret_access_key", SECRET_KEY.to_owned()),
            ("aws_region", REGION.to_owned()),
            ("aws_allow_http", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The environment of a `trackd server` child using this moto.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
