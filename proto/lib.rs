//! The protobuf API of trackd (package `trackd.v1`).
//!
//! The `.proto` sources live next to this file in `proto/trackd/v1/`; `build.rs` compiles them
//! with protox, so no system `protoc` is needed. Server and client crates use these types only at
//! their edges: the domain model of the server never sees a prost type.

/// Generated messages and tonic services of `trackd.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("trackd.v1");
}

/// Encoded `FileDescriptorSet` of every trackd proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("trackd_descriptor");

pub use prost;
pub use tonic;
