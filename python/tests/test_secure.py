"""The trackd package and the MLflow plugin against a server with --auth and TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys

import pytest

import trackd
from conftest import Server


def _pki(directory):
    """A CA and a certificate for 127.0.0.1 it signed (PEM files in `directory`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trackd test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: str(directory / f"{name}.pem") for name in ("ca", "cert", "key")}
    with open(paths["ca"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert"], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths["key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


@pytest.fixture
def secure_server(tmp_path, monkeypatch):
    pki = _pki(tmp_path)
    server = Server(
        tmp_path / "store",
        args=["--auth", "--tls-cert", pki["cert"], "--tls-key", pki["key"]],
        env={"TRACKD_ADMIN_USERNAME": "admin", "TRACKD_ADMIN_PASSWORD": "admin-password"},
    ).start()
    assert server.url.startswith("https://"), server.url
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", pki["ca"])
    yield server, pki
    trackd.set_tracking_uri("http://127.0.0.1:1")  # drop the session before the server goes
    server.stop()


def test_the_package_logs_over_tls_with_a_password(secure_server, monkeypatch):
    server, _ = secure_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "admin-password")
    trackd.set_tracking_uri(server.url)
    with trackd.start_run() as run:
        trackd.log_param("secure", True)
        for step in range(10_000):
            trackd.log_metric("loss", 1.0 / (step + 1), step=step)
    got = trackd.get_run(run.info.run_id)
    assert got.data.params == {"secure": "True"} and got.data.metrics["loss"] == 1.0 / 10_000
    assert len(trackd.get_metric_history(run.info.run_id, "loss")) == 10_000


def test_wrong_credentials_raise_unauthenticated(secure_server, monkeypatch):
    server, _ = secure_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    trackd.set_tracking_uri(server.url)
    with pytest.raises(trackd.TrackdError) as refused:
        trackd.get_experiment("0")
    assert refused.value.error_code == "UNAUTHENTICATED"


def test_the_plugin_streams_over_tls_with_a_password(secure_server):
    server, pki = secure_server
    uri = server.url.replace("https://", "trackd+https://")
    script = """
import mlflow, trackd
with mlflow.start_run() as run:
    for step in range(1000):
        mlflow.log_metric("m", float(step), step=step)
h = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
assert len(h) == 1000, len(h)
assert trackd.ingest_stats()["points_acked"] >= 1000
print("secure plugin ok")
"""
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_USERNAME="admin",
               MLFLOW_TRACKING_PASSWORD="admin-password",
               MLFLOW_TRACKING_SERVER_CERT_PATH=pki["ca"])
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "secure plugin ok" in done.stdout, done.stdout + done.stderr
