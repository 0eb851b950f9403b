"""Draws the soak benchmark's samples (docs/soak/soak.csv) as docs/soak/soak.png.

    python3 docs/soak/plot.py [CSV] [PNG]      # needs matplotlib (pip install matplotlib)

Four panels over time: server RSS and open descriptors; store size and points stored;
latencies (stream acknowledgement p99, REST write p99, search p99, history read); points/s.
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "docs/soak/soak.csv"
out = sys.argv[2] if len(sys.argv) > 2 else "docs/soak/soak.png"
with open(src, newline="") as f:
    rows = list(csv.DictReader(f))


def col(name):
    return [float(r[name]) if r[name] not in ("", "NaN", "nan") else float("nan") for r in rows]


minutes = [s / 60 for s in col("seconds")]
fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)

ax = axes[0]
ax.plot(minutes, col("server_rss_mib"), label="server RSS (MiB)", color="tab:blue")
ax.set_ylabel("MiB")
ax.set_ylim(bottom=0)
twin = ax.twinx()
fds = col("open_fds")
twin.plot(minutes, fds, label="open descriptors", color="tab:orange")
twin.set_ylabel("descriptors")
twin.set_ylim(0, max(fds) * 2)
ax.legend(loc="upper left")
twin.legend(loc="lower right")
ax.set_title("trackd soak: memory and descriptors stay flat; the store grows with the data")

ax = axes[1]
ax.plot(minutes, col("store_mib"), label="store size (MiB)", color="tab:green")
ax.set_ylabel("MiB")
twin = ax.twinx()
twin.plot(minutes, [p / 1e6 for p in col("points_stored")], label="points stored (M)", color="tab:gray")
twin.set_ylabel("M points")
ax.legend(loc="upper left")
twin.legend(loc="lower right")

ax = axes[2]
for name, label in [
    ("stream_ack_p99_ms", "stream ack p99"),
    ("rest_write_p99_ms", "REST log-batch + set-tag p99"),
    ("search_p99_ms", "runs/search p99"),
    ("history_read_ms", "history read (300k points)"),
    ("upload_p99_ms", "1 MiB upload p99"),
]:
    ax.plot(minutes, col(name), label=label)
ax.set_ylabel("ms")
ax.set_yscale("log")
ax.legend(loc="upper left", fontsize="small")

ax = axes[3]
rate = col("points_per_s")
ax.plot(minutes, rate, color="tab:purple", label="points stored per second")
ax.set_ylabel("points/s")
ax.set_ylim(0, max(rate) * 1.2)
ax.set_xlabel("minutes")
ax.legend(loc="lower left")

fig.tight_layout()
fig.savefig(out, dpi=80)
print(f"wrote {out}")
