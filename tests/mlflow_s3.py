"""The stock Python `mlflow` client against a trackd whose artifacts are in S3 (moto).

Run by tests/artifacts.rs with MLFLOW_TRACKING_URI set. The client learns from trackd's
/api/3.0/mlflow/server-info that multipart uploads and presigned downloads are on, so a
large file goes up in parts PUT straight to the bucket and comes back in ranged GETs from
it. Prints what it saw as JSON; every value read back is asserted here or by the caller.
"""
import hashlib
import json
import os
import tempfile

import mlflow
from mlflow.store.artifact import http_artifact_repo
from mlflow.utils import request_utils

MIB = 1024 * 1024
os.environ.setdefault("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1 * MIB))
os.environ.setdefault("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MIB))
os.environ.setdefault("MLFLOW_MULTIPART_DOWNLOAD_MINIMUM_FILE_SIZE", str(1 * MIB))
os.environ.setdefault("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(4 * MIB))

seen = {"part_urls": [], "download_urls": []}

upload_part = http_artifact_repo.HttpArtifactRepository._upload_part


def recording_upload_part(credential, local_file, size, start_byte):
    seen["part_urls"].append(credential.url)
    return upload_part(credential, local_file, size, start_byte)


http_artifact_repo.HttpArtifactRepository._upload_part = staticmethod(recording_upload_part)

download_chunk = request_utils.download_chunk


def recording_download_chunk(**kwargs):
    seen["download_urls"].append(kwargs["http_uri"])
    return download_chunk(**kwargs)


request_utils.download_chunk = recording_download_chunk
http_artifact_repo.download_chunk = recording_download_chunk

workdir = tempfile.mkdtemp()
big = os.path.join(workdir, "weights.bin")
payload = os.urandom(12 * MIB + 12345)
with open(big, "wb") as f:
    f.write(payload)
small = os.path.join(workdir, "config.json")
with open(small, "w") as f:
    f.write('{"lr": 0.1}')

with mlflow.start_run() as run:
    mlflow.log_artifact(big, "model")
    mlflow.log_artifact(small, "model")
    listed = {f.path: f.file_size for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "model")}
    assert listed == {"model/config.json": 11, "model/weights.bin": len(payload)}, listed
    out = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="model", dst_path=os.path.join(workdir, "back")
    )
    with open(os.path.join(out, "weights.bin"), "rb") as f:
        back = f.read()
    assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest(), len(back)
    with open(os.path.join(out, "config.json")) as f:
        assert f.read() == '{"lr": 0.1}'

print(json.dumps({"run_id": run.info.run_id, "size": len(payload), **seen}))
