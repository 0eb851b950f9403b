//! A real S3-compatible server for the object-store tests: moto's server mode (PyPI
//! `moto[server]`, installed by `.ci/run` into the tools venv), started on 127.0.0.1 and a
//! free port, stopped when dropped. Where the tools are not required and moto is missing,
//! [`Moto::start`] returns `None` and says so on stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
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
        let python = std::env::var("TRACKD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let usable = Command::new(&python)
            .args(["-c", "import moto.server"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !usable {
            let required = std::env::var("CI").is_ok()
                || std::env::var("TRACKD_TEST_TOOLS").is_ok_and(|v| v == "required");
            assert!(
                !required,
                "moto is required (TRACKD_TEST_PYTHON, set by .ci/run)"
            );
            eprintln!("SKIPPED: no Python with moto; run `bash .ci/run`");
            return None;
        }
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

    /// One unsigned HTTP/1.1 request to moto (it takes them); the status and body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        self.create_bucket_now(name);
    }

    /// Creates a bucket (outside an async context).
    pub fn create_bucket_now(&self, name: &str) {
        let (status, body) = self.request("PUT", &format!("/{name}"));
        assert_eq!(status, 200, "{body}");
    }

    /// The keys in a bucket under `prefix` (ListObjectsV2, first 1000).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.keys_now(bucket, prefix)
    }

    /// [`Moto::keys`] outside an async context.
    pub fn keys_now(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, xml) = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        assert_eq!(status, 200, "{xml}");
        xml.split("<Key>")
            .skip(1)
            .map(|rest| rest[..rest.find("</Key>").unwrap()].to_owned())
            .collect()
    }

    /// Multipart uploads still open in a bucket.
    pub async fn open_uploads(&self, bucket: &str) -> usize {
        let (status, xml) = self.request("GET", &format!("/{bucket}?uploads"));
        assert_eq!(status, 200, "{xml}");
        xml.matches("<UploadId>").count()
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
