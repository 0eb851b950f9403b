//! Shared by the TLS tests: certificates made with rcgen (a CA and a certificate for
//! 127.0.0.1 it signed) and a server with TLS and `--auth` (user `ann`, an administrator).
#![allow(dead_code)]

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use trackd_server::domain::access::Level;
use trackd_server::domain::Caller;
use trackd_server::server::{ServeOptions, ServerHandle};
use trackd_server::tls::{Tls, TlsFiles};
use trackd_server::{Store, StoreConfig, Tracker};

/// A CA and a server certificate it signed, as PEM.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn make_pki(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("trackd test CA {name}"));
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
    }
}

pub fn write_pki(dir: &Path, pki: &Pki) -> TlsFiles {
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, &pki.cert_pem).unwrap();
    std::fs::write(&files.key, &pki.key_pem).unwrap();
    files
}

pub async fn start(files: TlsFiles, dir: &Path) -> ServerHandle {
    let store = Store::open(StoreConfig::new(dir.join("store"))).unwrap();
    let tracker = Tracker::open(store)
        .unwrap()
        .with_auth(Level::Read)
        .unwrap();
    tracker
        .create_user(&Caller::InProcess, "ann", "ann-password", true)
        .await
        .unwrap();
    let options = ServeOptions {
        tls: Some(Tls::load(files).unwrap()),
        ..ServeOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ServerHandle::start_on(listener, tracker, options).unwrap()
}
