"""N Python processes (as torch.distributed ranks would be) streaming into one shared run
and into a run each, through one trackd server.

    python python/examples/distributed.py --ranks 4 --steps 1000000 [--uri http://127.0.0.1:5000]

Without --uri it starts a release `trackd server` on a temporary store. Each rank logs
`--steps` points of `loss/rankR` into the shared run (started by the launcher; each rank logs to it
by id) and `--steps` points of `loss`
into its own run (tagged as a child of the shared one), then flushes. The launcher checks every point is stored once and
prints the aggregate rate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import tempfile
import time

import trackd


def rank_main(rank: int, shared: trackd.RunInfo, steps: int, uri: str) -> float:
    trackd.set_tracking_uri(uri)
    begin = time.perf_counter()
    # The shared run: every rank logs its own key into it, by id (the launcher owns it).
    for step in range(steps):
        trackd.log_metric(f"loss/rank{rank}", 1.0 / (step + 1), step=step, run_id=shared.run_id)
    # And a run of its own, a child of the shared one, in the same experiment.
    with trackd.start_run(experiment_id=shared.experiment_id, run_name=f"rank-{rank}",
                          tags={"mlflow.parentRunId": shared.run_id}):
        trackd.log_param("rank", rank)
        for step in range(steps):
            trackd.log_metric("loss", 1.0 / (step + 1), step=step)
    trackd.flush()  # the shared run's points too
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--uri", help="a running trackd server (default: start one)")
    parser.add_argument("--trackd", default="target/release/trackd")
    args = parser.parse_args()
    server = None
    uri = args.uri
    if uri is None:
        store = tempfile.mkdtemp(prefix="trackd-dist-")
        server = subprocess.Popen([args.trackd, "server", "--store", store, "--port", "0"],
                                  stdout=subprocess.PIPE, text=True)
        uri = server.stdout.readline().split("listening on ", 1)[1].split(" ", 1)[0]
    try:
        trackd.set_tracking_uri(uri)
        trackd.set_experiment("distributed")
        shared = trackd.start_run(run_name="shared")
        run_id = shared.info.run_id
        t = time.perf_counter()
        ctx = mp.get_context("spawn")  # fresh interpreters, as torchrun starts them
        with ctx.Pool(args.ranks) as pool:
            per_rank = pool.starmap(rank_main, [(r, shared.info, args.steps, uri) for r in range(args.ranks)])
        wall = time.perf_counter() - t
        trackd.end_run()
        total = 2 * args.ranks * args.steps
        for r in range(args.ranks):
            steps, _, _ = trackd.get_metric_columns(run_id, f"loss/rank{r}")
            assert len(steps) == args.steps and list(steps[:2]) == [0, 1], (r, len(steps))
        children = trackd.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
        assert len(children) == args.ranks, len(children)
        for child in children:
            steps, _, _ = trackd.get_metric_columns(child.info.run_id, "loss")
            assert len(steps) == args.steps
        print(f"{args.ranks} ranks x {2 * args.steps:,} points = {total:,} points in {wall:.2f} s "
              f"(process start included) = {total / wall:,.0f} points/s; per rank "
              + ", ".join(f"{s:.2f} s" for s in per_rank) + "; every point stored once")
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
