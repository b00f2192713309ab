"""The paper-size microwell run (2,458 wells x 5 days, synthetic-microwell): seconds and GPU busy fraction per stage.

Runs examples/microwell.yaml (U-Net pre-training, encode, fusion training, Affinity
Propagation, Grad-CAM, text, similarity) on the chosen device and prints, per stage, its
wall seconds and the fraction of that time the GPU was busy: ``utilization.gpu`` (the share
of each sample period in which a kernel ran), sampled every 100 ms through pynvml when it is
installed, else ``nvidia-smi``. On CPU the table is the same with "n/a". Encode also reports
images per second (it renders the synthetic images: the read-ahead threads overlap that with
the model).

    python benchmarks/bench_gpu.py --device cuda                       # the paper-size run, one command
    python benchmarks/bench_gpu.py --device cpu --wells 32 --threads 1 --pretrain-iterations 20   # a small CPU run
    python benchmarks/bench_gpu.py --device cuda --precision fp32 --loader-workers 0   # the data path off
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


class GpuSampler:
    """Background samples (time, busy %) of one GPU; empty when there is no NVIDIA GPU to ask."""

    def __init__(self, index: int, enabled: bool, period: float = 0.1) -> None:
        self.index, self.period = index, period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._read = self._reader() if enabled else None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _reader(self) -> Any:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # no pynvml: nvidia-smi, if there is one
            if shutil.which("nvidia-smi") is None:
                return None
            cmd = ["nvidia-smi", f"--id={self.index}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
            return lambda: float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[0])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter(), self._read()))
            except Exception:
                return
            self._stop.wait(self.period)

    def __enter__(self) -> "GpuSampler":
        if self._read is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def busy(self, start: float, stop: float) -> str:
        inside = [u for t, u in self.samples if start <= t <= stop]
        return f"{sum(inside) / len(inside):.0f}%" if inside else "n/a"  # CPU, or a stage shorter than a sample


def timed_stages() -> list[tuple[str, float, float]]:
    """Wrap the pipeline's ``run_stage`` so that each stage's start and end are recorded."""
    from cellxai_core import pipeline

    windows: list[tuple[str, float, float]] = []
    original = pipeline.run_stage

    def run_stage(ctx: Any, stage: str, work: Any, **info: Any) -> None:
        start = time.perf_counter()
        original(ctx, stage, work, **info)
        windows.append((stage, start, time.perf_counter()))

    pipeline.run_stage = run_stage
    return windows


def config(args: argparse.Namespace) -> dict:
    data = yaml.safe_load((ROOT / "examples" / "microwell.yaml").read_text())
    data["dataset"]["params"].update(n_wells=args.wells, days=args.days)
    data.update(device=args.device, precision=args.precision, loader_workers=args.loader_workers,
                batch_size=args.batch_size, chunk_size=args.chunk_size)
    if args.threads:
        data["threads"] = args.threads
    if args.pretrain_iterations is not None:
        data["encoder"]["params"]["iterations"] = args.pretrain_iterations
    if args.executor == "dask":
        data["executor"] = {"name": "dask", "workers": args.workers}
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--wells", type=int, default=2458, help="wells (the paper: 2,458)")
    parser.add_argument("--days", type=int, default=5, help="images per well (the paper: 5)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--loader-workers", default="auto", type=lambda v: v if v == "auto" else int(v))
    parser.add_argument("--batch-size", type=int, default=64, help="samples per encode / Grad-CAM batch")
    parser.add_argument("--chunk-size", type=int, default=256, help="samples per resumable encode chunk")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--pretrain-iterations", type=int, default=None, help="U-Net pre-training steps (default: the example's 150)")
    parser.add_argument("--executor", default="local", choices=["local", "dask"])
    parser.add_argument("--workers", type=int, default=2, help="dask workers (with --executor dask)")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a temporary one)")
    args = parser.parse_args()

    import torch

    import cellxai_core as cx

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("bench_gpu: --device cuda but torch sees no CUDA device; use --device cpu")
    index = int(args.device.partition(":")[2] or 0) if cuda else 0
    name = torch.cuda.get_device_name(index) if cuda else "CPU"
    windows = timed_stages()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-gpu-")) / "run"
    with GpuSampler(index, enabled=cuda) as sampler:
        start = time.perf_counter()
        run = cx.run(config(args), out=out, overwrite=True)
        total = (start, time.perf_counter())
    attrs = run.store.attrs()
    print(f"bench_gpu: {args.wells} wells x {args.days} days on {name} ({args.device}); torch {torch.__version__}; "
          f"precision {attrs.get('precision_used')}; loader_workers {args.loader_workers}; executor {args.executor}; "
          f"batch {args.batch_size}; torch threads {attrs.get('threads_used')}; "
          f"pre-training steps {config(args)['encoder']['params'].get('iterations')}")
    print(f"{'stage':<28} {'seconds':>9} {'GPU busy':>9}  note")
    for stage, t0, t1 in windows:
        note = f"{args.wells * args.days / (t1 - t0):.0f} images/s" if stage == "encode" else ""
        print(f"{stage:<28} {t1 - t0:>9.1f} {sampler.busy(t0, t1):>9}  {note}")
    print(f"{'total (run)':<28} {total[1] - total[0]:>9.1f} {sampler.busy(*total):>9}  {len(sampler.samples)} utilisation samples")
    if cuda:
        print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated(index) / 2**30:.2f} GiB")
    if args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
