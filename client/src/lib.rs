//! trackd client (in progress).
