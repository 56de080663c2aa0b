"""Batch alt text: the single-process CLI against the Ray engine, on the same photos and the same cores.

    .venv/bin/python -m benchmarks.bench_ray [--photos 1000] [--rounds 2] [--beam 1] [--price 0.357]

Copies the first N Flickr8k photos into a temporary folder, then, taking turns for ``--rounds``:
(a) ``python -m captioner caption -r DIR --out FILE.jsonl`` (one process, its start-up included);
(b) the same with ``--engine ray --workers 2 --address ...`` on a Ray head started once with two CPUs, so
    the time is the job's own (the cluster is up before it, as on a real one);
(c) the same with a Ray started by the command itself (``ray.init()``), as on a laptop.
Before them, a job of one photo on the running cluster (the start-up a job pays); during them, the
captioning actors' resident memory. Prints photos/s, the Ray/CLI ratio, and a scaling estimate: photos/s per CPU times the CPUs of N
nodes, and the cost of a million photos at ``--price`` dollars per node-hour for ``--cpus-per-node``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from captioner.data import REPO_ROOT, default_data_root
from harness.servers import free_port, rss_mb

CLI = [sys.executable, "-m", "captioner", "caption"]
CPUS = 2
# The cluster and its clients on loopback only, with the token `ray start` sets up; no usage statistics.
os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"})


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


class ActorMemory:
    """The largest resident memory seen of any captioning actor on this machine, sampled twice a second."""

    def __init__(self):
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for process in Path("/proc").glob("[0-9]*"):
                try:
                    if b"CaptionActor" in (process / "cmdline").read_bytes():
                        self.peak_mb = max(self.peak_mb, rss_mb(int(process.name)))
                except (OSError, ValueError):
                    continue

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--cpus-per-node", type=int, default=8, help="default: AWS c7i.2xlarge, 8 vCPUs")
    parser.add_argument("--price", type=float, default=0.357, help="dollars per node-hour (default: c7i.2xlarge "
                        "on-demand in us-east-1 as last seen; check the current price)")
    args = parser.parse_args()

    images = sorted((default_data_root() / "Images").glob("*.jpg"))[: args.photos]
    if len(images) < args.photos:
        sys.exit(f"error: found {len(images)} Flickr8k photos, asked for {args.photos}")
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for image in images:
            shutil.copy(image, folder)
        subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--num-cpus", str(CPUS),
                        "--port", str(port),
                        "--include-dashboard", "false", "--disable-usage-stats"], check=True, capture_output=True)
        address = f"127.0.0.1:{port}"
        try:
            one = Path(tmp) / "one"
            one.mkdir()
            shutil.copy(images[0], one)
            # A job of one photo: the driver joining, an actor starting with the model, one caption.
            start_up = timed([*CLI, "-r", str(one), "--out", f"{tmp}/one-ray", "--engine", "ray", "--workers", "1",
                              "--address", address])
            memory = ActorMemory()
            times: dict[str, list[float]] = {"local CLI": [], "Ray, cluster up": []}
            common = ["-r", str(folder), "--beam", str(args.beam)]
            for round_ in range(args.rounds):
                out = Path(tmp) / f"run{round_}"
                times["local CLI"].append(timed([*CLI, *common, "--out", f"{out}.jsonl"]))
                with memory:
                    times["Ray, cluster up"].append(timed([*CLI, *common, "--out", f"{out}-ray", "--engine", "ray",
                                                           "--workers", str(CPUS), "--address", address]))
                memory = ActorMemory() if round_ + 1 < args.rounds else memory
                print(", ".join(f"{name} {t[-1]:.1f} s" for name, t in times.items()), flush=True)
        finally:
            subprocess.run([ray, "stop", "--force"], capture_output=True)
        # A Ray of its own, as on a laptop: once, with no other Ray on the machine.
        times["Ray, started by the command"] = [timed([*CLI, *common, "--out", f"{tmp}/own-ray", "--engine", "ray",
                                                       "--workers", str(CPUS)])]

    rates = {name: args.photos / statistics.median(t) for name, t in times.items()}
    print(f"\n{args.photos} Flickr8k photos, beam {args.beam}, {CPUS} CPUs, start-up included, median of "
          f"{args.rounds}:")
    for name, rate in rates.items():
        print(f"  {name}: {rate:.1f} photos/s ({rate / rates['local CLI']:.2f}x the local CLI)")
    print(f"a job of one photo on the running cluster (driver, one actor with the model, one caption): "
          f"{start_up:.1f} s; an actor's resident memory at most {memory.peak_mb:.0f} MB")
    per_cpu = rates["Ray, cluster up"] / CPUS
    print(f"estimate at {per_cpu:.1f} photos/s per CPU, {args.cpus_per_node} CPUs a node, ${args.price}/node-hour:")
    for nodes in args.nodes:
        rate = per_cpu * args.cpus_per_node * nodes
        hours_per_million = 1e6 / rate / 3600
        print(f"  {nodes:4d} nodes: {rate:8.0f} photos/s, 10 million photos in {1e7 / rate / 3600:6.2f} h, "
              f"${hours_per_million * nodes * args.price:.2f} per million photos")


if __name__ == "__main__":
    main()
