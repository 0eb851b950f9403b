//! Compiles `proto/trackd/v1/*.proto` with protox (pure Rust, no system `protoc`) and
//! tonic-prost-build, and writes the encoded descriptor set that gRPC reflection serves.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/trackd/v1/tracking.proto",
    "proto/trackd/v1/artifacts.proto",
    "proto/trackd/v1/models.proto",
    "proto/trackd/v1/auth.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    // compile_fds does not write the descriptor set itself; reflection needs it.
    std::fs::write(
        out.join("trackd_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // prost encoding, decoding from one slice: see proto/codec.rs.
        .codec_path("crate::codec::SliceCodec")
        // Hand-written so a server can send runs it encoded itself: see proto/search_runs.rs.
        .extern_path(
            ".trackd.v1.SearchRunsResponse",
            "crate::search_runs::SearchRunsResponse",
        )
        .compile_fds(fds)?;
    Ok(())
}
