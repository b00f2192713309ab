"""Microwell pipeline speed and memory: encode throughput and peak memory from 256 to 2,458 wells.

Each size runs examples/microwell.yaml (without explainers, which are measured by
their own benchmarks) in a fresh process, so that its peak resident memory is its own.
Reported per size: seconds per stage, encode throughput (images/s; the encode stage
also renders the synthetic images), the encoder's forward throughput alone on a fixed
batch, and the process's peak RSS. Memory should not grow with the number of wells:
samples are generated lazily and features are written to the store chunk by chunk.

    .venv/bin/python benchmarks/bench_microwell.py [--wells 256 2458] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "bench_microwell"


def child(wells: int, threads: int) -> dict:
    """One pipeline run in this process; returns its timings and peak memory."""
    import torch

    import cellxai_core as cx

    torch.set_num_threads(threads)
    config = yaml.safe_load((ROOT / "examples" / "microwell.yaml").read_text())
    config.update(device="cpu", explainers=[], quality=False)
    config["dataset"]["params"]["n_wells"] = wells
    start = time.perf_counter()
    run = cx.run(config, out=OUT / f"run{wells}", overwrite=True)
    total = time.perf_counter() - start
    seconds = {stage: info.get("seconds") for stage, info in run.stages.items()}
    days = run.array("features/tokens").shape[1]
    images = wells * days

    # forward-only throughput of an encoder of the same shape on one fixed batch
    encoder = cx.load_component("encoder", "unet", in_channels=3, pretrain=False, **{
        k: v for k, v in config["encoder"]["params"].items() if k in ("base_channels", "depth")
    }).eval()
    x = torch.rand(32, 3, config["dataset"]["params"]["size"], config["dataset"]["params"]["size"])
    with torch.no_grad():
        encoder(x[:4])
        t0 = time.perf_counter()
        encoder(x)
        forward = time.perf_counter() - t0
        t0 = time.perf_counter()
        encoder.handcrafted(x.reshape(8, 4, *x.shape[1:]))
        handcrafted = time.perf_counter() - t0
    return {
        "wells": wells, "images": images, "threads": threads, "total_s": round(total, 1), "stages_s": seconds,
        "encode_images_per_s": round(images / seconds["encode"], 1),
        "encoder_forward_images_per_s": round(32 / forward, 1),
        "handcrafted_images_per_s": round(32 / handcrafted, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, nargs="+", default=[256, 2458])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.threads)))
        return
    rows = []
    for wells in args.wells:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(wells), "--threads", str(args.threads)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{wells} wells done in {rows[-1]['total_s']} s", file=sys.stderr)
    stages = ["load", "pretrain", "encode", "fuse", "cluster"]
    print(f"\nmicrowell pipeline, {args.threads} threads, explainers off\n")
    print("| wells | images | " + " | ".join(f"{s} s" for s in stages) + " | encode img/s | U-Net fwd img/s | features img/s | peak RSS MiB |")
    print("|" + "---|" * (len(stages) + 6))
    for r in rows:
        print(f"| {r['wells']} | {r['images']} | " + " | ".join(f"{r['stages_s'].get(s, 0):.1f}" for s in stages)
              + f" | {r['encode_images_per_s']} | {r['encoder_forward_images_per_s']} | {r['handcrafted_images_per_s']}"
              + f" | {r['peak_rss_mib']} |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_microwell.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
