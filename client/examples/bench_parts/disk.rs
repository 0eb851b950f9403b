//! `bench -- --disk`: bytes per point on disk for three kinds of values, logged as a trainer
//! would (8 clients, one run each, 4 keys per step, durable, through a server child):
//!
//! - `smooth_f32`: the ingest benchmark's curves (f32 precision, slowly changing), a fixed
//!   10 ms logging interval;
//! - `noisy_f32`: loss-like curves with gaussian noise, rounded to f32 (what a framework
//!   logging `float32` tensors sends), ms timestamps with ±3 ms jitter;
//! - `noisy_f64`: the same noise kept in float64, the same jittered timestamps.
//!
//! For each, after a graceful stop: the store's files (sled's database in `db/`, the chunk
//! log in `chunks/`), the chunk encoding alone (`usage::chunk_usage`: the payloads of every
//! chunk, inline in sled or in the log), what share of the points stayed inline in sled,
//! and the database compacted (every live entry written once into a fresh database, as
//! `trackd backup` does). On disk minus the encoding is the overhead: record headers,
//! references, spans, the other trees and sled's own pages and log.

use std::path::Path;

use trackd_client::{Client, IngestConfig};
use trackd_server::store::sled::usage;

use super::{KEYS, RUNS, ServerChild, dir_size, server_points_ingested, value};

/// A small deterministic generator (xorshift64*), with gaussian draws by Box–Muller.
struct Noise(u64);

impl Noise {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[derive(Clone, Copy)]
enum Values {
    SmoothF32,
    NoisyF32,
    NoisyF64,
}

impl Values {
    fn name(self) -> &'static str {
        match self {
            Values::SmoothF32 => "smooth_f32",
            Values::NoisyF32 => "noisy_f32",
            Values::NoisyF64 => "noisy_f64",
        }
    }

    /// The timestamp of `step`: a fixed 10 ms interval, jittered by ±3 ms for noisy values.
    fn timestamp(self, noise: &mut Noise, step: i64) -> i64 {
        let ts0 = 1_700_000_000_000i64 + step * 10;
        match self {
            Values::SmoothF32 => ts0,
            _ => ts0 + (noise.next_u64() % 7) as i64 - 3,
        }
    }

    /// Key `k`'s value at `step`.
    fn value(self, noise: &mut Noise, k: usize, step: i64) -> f64 {
        if let Values::SmoothF32 = self {
            return value(k, step);
        }
        let x = step as f64;
        let clean = match k {
            0 => 2.0 / (1.0 + x * 1e-3),
            1 => 1.0 - 1.0 / (1.0 + x * 1e-3),
            2 => 1e-3 * (1.0 - x / 1e6),
            _ => 5.0 + (x * 1e-4).sin(),
        };
        let noisy = clean * (1.0 + 0.02 * noise.gaussian());
        match self {
            Values::NoisyF32 => f64::from(noisy as f32),
            _ => noisy,
        }
    }
}

/// One workload's figures, in bytes.
struct Sizes {
    points: u64,
    on_disk: u64,
    database: u64,
    chunk_log: u64,
    encoding: u64,
    inline_bytes: u64,
    compacted: u64,
}

async fn workload(root: &Path, values: Values, steps: i64) -> Sizes {
    let dir = root.join(values.name());
    let server = ServerChild::spawn(&dir, "durable");
    let mut tasks = Vec::new();
    for rank in 0..RUNS {
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client::connect_with(&url, IngestConfig::default())
                .await
                .unwrap();
            let run = client.start_run().system_tags(false).start().await.unwrap();
            let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ (rank as u64 + 1));
            for step in 0..steps {
                let ts = values.timestamp(&mut noise, step);
                let metrics: [(&str, f64); 4] =
                    std::array::from_fn(|k| (KEYS[k], values.value(&mut noise, k, step)));
                run.log_metrics_at(&metrics, step, ts).await.unwrap();
            }
            run.finish().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let points = server_points_ingested(&server.url).await;
    assert_eq!(points, (RUNS * KEYS.len()) as u64 * steps as u64);
    server.stop();
    let on_disk = dir_size(&dir);
    println!(
        "  {} files: {}",
        values.name(),
        file_breakdown(&dir.join("db"))
    );
    let chunks = usage::chunk_usage(&dir).expect("read the closed store");
    let copy = root.join(format!("{}-compacted", values.name()));
    usage::compacted_copy(&dir, &copy).expect("compacted copy");
    Sizes {
        points,
        on_disk,
        database: dir_size(&dir.join("db")),
        chunk_log: chunks.log_bytes,
        encoding: chunks.inline_bytes + chunks.logged_bytes,
        inline_bytes: chunks.inline_bytes,
        compacted: dir_size(&copy),
    }
}

/// The database's files by kind (sled's log, its snapshots, blobs), in MiB.
fn file_breakdown(db: &Path) -> String {
    let mut kinds: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut stack = vec![db.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(db)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let kind = name.split(['/', '.']).next().unwrap_or("").to_owned();
            let e = kinds.entry(kind).or_default();
            e.0 += 1;
            e.1 += meta.len();
        }
    }
    kinds
        .iter()
        .map(|(k, (n, b))| format!("{k}: {n} × {:.1} MiB", *b as f64 / (1 << 20) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the three workloads and prints their bytes per point.
pub async fn disk(root: &Path, quick: bool) {
    let steps = if quick { 25_000 } else { 250_000 };
    println!(
        "bytes per point: {} runs x {} keys x {steps} steps per workload, durable, after a graceful stop",
        RUNS,
        KEYS.len()
    );
    println!(
        "{:<11} {:>10} {:>8} {:>9} {:>10} {:>9} {:>7} {:>10}",
        "values", "points", "on disk", "database", "chunk log", "encoding", "inline", "compacted"
    );
    for values in [Values::SmoothF32, Values::NoisyF32, Values::NoisyF64] {
        let s = workload(root, values, steps).await;
        // Bytes per point: on disk, the database, the chunk log, the encoding; the
        // compacted database.
        let [disk, database, log, encoding, compacted] =
            [s.on_disk, s.database, s.chunk_log, s.encoding, s.compacted]
                .map(|b| b as f64 / s.points as f64);
        let inline = 100.0 * s.inline_bytes as f64 / s.encoding.max(1) as f64;
        let name = values.name();
        println!(
            "{name:<11} {:>10} {disk:>8.2} {database:>9.2} {log:>10.2} {encoding:>9.2} {inline:>6.1}% {compacted:>10.2}",
            s.points
        );
        println!(
            "{{\"workload\":\"disk_{name}\",\"points\":{},\"on_disk_bytes_per_point\":{disk:.3},\"database_bytes_per_point\":{database:.3},\"chunk_log_bytes_per_point\":{log:.3},\"encoding_bytes_per_point\":{encoding:.3},\"inline_percent\":{inline:.2},\"compacted_database_bytes_per_point\":{compacted:.3}}}",
            s.points
        );
    }
}
