"""Kill a real run with SIGKILL anywhere, resume it, and check it ends exactly where an uninterrupted run ends.

DESIGN §9 promises that a run killed at any moment and started again with ``--resume``
finishes with the same results as an uninterrupted run. SIGINT / SIGTERM are handled by the
run itself (tests/test_faults.py); SIGKILL is not, so this is the case that tests the store:
stages publishing atomically, chunk marks, partial work, the report written after the store.

The pipeline is examples/microwell.yaml shrunk to a few small wells (pre-training, encoding,
fusion training, Affinity Propagation, Grad-CAM, text, similarity and ``report: true``), on
the CPU with one thread, so that it is fully deterministic. The uninterrupted run, its store
polled, gives the wall time T and each stage's length. Then one kill per stage (start-up, every
stage, results.csv, the report): the benchmark watches the victim's store and kills it a random
time after it enters that stage, within the stage's length; the other kills come at one random
moment in each equal slice of [0, T]. The plan is seeded (``--seed``); the moments a busy
machine actually gives are printed. A run that finishes before its kill is run again with a kill
drawn inside [0, 0.9 T], so that every one of the N runs is really killed and resumed.

    python benchmarks/kill_resume.py [--seed 0] [--kills 20] [--out benchmarks/out/kill_resume]

One line per kill (when, the stage the store says was running, identical or not), then
``K / N identical``. Exit status 1 when any run differs or fails to resume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("cellxai"))
SMALL = [
    "device=cpu", "threads=1", "report=true", "batch_size=4", "chunk_size=4",
    "dataset.params.n_wells=12", "dataset.params.size=48", "dataset.params.days=4",
    "encoder.params.iterations=8", "encoder.params.batch_size=4", "encoder.params.train_samples=6",
    "encoder.params.eval_wells=2", "encoder.params.crop=32",
    "fusion.params.epochs=20",
]
MAX_RESUMES = 5


def command(config: Path, out: Path, sets: list[str], *extra: str) -> list[str]:
    """``cellxai -q run CONFIG --out OUT --set ...`` (quiet: the benchmark prints its own lines)."""
    return [CLI, "-q", "run", str(config), "--out", str(out), *(a for s in sets for a in ("--set", s)), *extra]


def environment() -> dict[str, str]:
    """One thread everywhere: the machine is shared and thread counts are part of reproducibility."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_stage(out: Path, last: str | None = None) -> str:
    """What the run was doing, from the store's stage status (why: the kill's delay alone does not say).

    Between stages it is ``after <stage>``; after ``last`` (the final stage) it is writing results.csv.
    """
    meta = out / "store.zarr" / "zarr.json"
    if not meta.is_file():
        return "start-up" if not (out / "config.yaml").exists() else "creating the store"
    try:
        attrs = json.loads(meta.read_text()).get("attributes", {})
    except ValueError:
        return "store attrs being written"
    running = [name for name, entry in attrs.get("stages", {}).items() if entry.get("status") == "running"]
    if running:
        return running[0]
    if attrs.get("status") == "complete":
        return "report" if not (out / "report.html").exists() else "exiting (report written)"
    done = [name for name, entry in attrs.get("stages", {}).items() if entry.get("status") == "done"]
    if not done:
        return "before the first stage"
    return "results.csv" if done[-1] == last else f"after {done[-1]}"


def timeline(config: Path, out: Path, sets: list[str]) -> tuple[float, str, dict[str, float]]:
    """Run uninterrupted, polling the store: total seconds, the last stage, and when each stage was first seen.

    Why: kills aimed inside each stage's window make sure short stages (load, the text explainers)
    are hit too, not only the long ones a uniform delay mostly lands in.
    """
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen(command(config, out, sets), env=environment(), stdout=subprocess.DEVNULL)
    seen: dict[str, float] = {}
    while proc.poll() is None:
        seen.setdefault(run_stage(out), time.perf_counter() - start)
        time.sleep(0.02)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed (exit {proc.returncode})")
    last = list(json.loads((out / "store.zarr" / "zarr.json").read_text())["attributes"]["stages"])[-1]
    seen = {("results.csv" if name == f"after {last}" else name): t for name, t in seen.items() if not name.startswith("exiting")}
    return total, last, seen


def arrays(out: Path) -> dict[str, np.ndarray]:
    """Every finished array of a run's store, by path."""
    from cellxai_core.store import RunStore

    store = RunStore(out / "store.zarr", mode="r")
    return {path: store.read(path) for path in store.tree()}


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """Paths whose arrays differ (or exist in one run only); NaN equals NaN in float arrays."""
    diff = sorted(set(a) ^ set(b))
    for path in sorted(set(a) & set(b)):
        x, y = a[path], b[path]
        nan = x.dtype.kind in "fc" and y.dtype.kind in "fc"
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=nan):
            diff.append(path)
    return diff


@dataclass(frozen=True)
class Kill:
    """When to kill: ``delay`` s after the run starts or, with ``stage``, after the run is seen entering it."""

    delay: float
    stage: str | None = None

    def __str__(self) -> str:
        return f"{self.delay:5.1f} s after {'the start' if self.stage is None else 'entering ' + self.stage}"


def wait_and_kill(proc: subprocess.Popen, out: Path, kill: Kill, order: list[str], last: str) -> bool:
    """SIGKILL ``proc`` as ``kill`` says; False when it finished first. A stage too short to be seen
    between two polls counts as entered when a later one is seen."""
    start = time.perf_counter()
    if kill.stage is not None:
        target = order.index(kill.stage)
        while proc.poll() is None:
            now = run_stage(out, last)
            if now == kill.stage or (now in order and order.index(now) > target):
                break
            time.sleep(0.005)
        start = time.perf_counter()
    try:
        proc.wait(timeout=max(kill.delay - (time.perf_counter() - start), 0.0) if proc.poll() is None else 0)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def kill_and_resume(config: Path, out: Path, sets: list[str], kill: Kill, order: list[str], last: str) -> tuple[str, int, str]:
    """Start a run, SIGKILL it, resume until it completes: (stage it was in, resumes needed, last error)."""
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen(command(config, out, sets), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_and_kill(proc, out, kill, order, last):
        return "finished before the kill", 0, ""
    stage = run_stage(out, last)
    error = ""
    for attempt in range(1, MAX_RESUMES + 1):
        done = subprocess.run(command(config, out, sets, "--resume"), env=environment(), capture_output=True, text=True)
        if done.returncode == 0:
            return stage, attempt, ""
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return stage, MAX_RESUMES, error


def plan(total: float, stages: dict[str, float], kills: int, seed: int) -> list[Kill]:
    """One kill at a random moment inside each stage (its length as the uninterrupted run timed it),
    the rest at one random moment in each equal slice of [0, total]; seeded, in random order.

    Why stage-triggered: a stage of a few hundred ms (load, the text explainers, results.csv) is
    missed by a delay from the start, since two runs on a shared machine drift by more than that.
    """
    rng = np.random.default_rng(seed)
    names = [name for name in stages if not name.startswith("after ")]  # gaps between stages last ms
    ends = [stages[n] for n in names[1:]] + [total]
    aimed = [Kill(float(rng.uniform(0, end - stages[name])), name) for name, end in zip(names, ends)][:kills]
    rest = kills - len(aimed)
    out = aimed + [Kill((i + rng.uniform()) * total / rest) for i in range(rest)]
    return [out[i] for i in rng.permutation(kills)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill delays (the pipeline's seed stays 0)")
    parser.add_argument("--kills", type=int, default=20, help="how many killed runs to resume")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "microwell.yaml")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="extra override key=value (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "kill_resume")
    args = parser.parse_args(argv)
    sets = SMALL + args.sets
    reference, victim = args.out / "uninterrupted", args.out / "killed"
    total, last, stages = timeline(args.config, reference, sets)
    expected, expected_csv = arrays(reference), (reference / "results.csv").read_bytes()
    print(f"overrides: {' '.join(sets)}")
    print(f"uninterrupted run: {total:.1f} s, {len(expected)} arrays; stages first seen at: "
          + ", ".join(f"{name} {t:.1f} s" for name, t in stages.items()), flush=True)
    identical = 0
    order = list(stages)
    redraw = np.random.default_rng(args.seed + 1)
    for k, kill in enumerate(plan(total, stages, args.kills, args.seed), 1):
        for _ in range(4):  # a busy machine can make the run beat its kill: draw a moment inside the run instead
            stage, resumes, error = kill_and_resume(args.config, victim, sets, kill, order, last)
            if resumes or error:
                break
            kill = Kill(float(redraw.uniform(0.0, 0.9 * total)))
        if error:
            print(f"kill {k:2d}/{args.kills}: {kill}, in {stage}: did not resume ({error}): identical no", flush=True)
            continue
        differ = same(expected, arrays(victim))
        csv_same = (victim / "results.csv").read_bytes() == expected_csv
        ok = not differ and csv_same and (victim / "report.html").is_file()
        identical += ok
        what = "" if ok else f" (differ: {', '.join(differ[:4]) or ''}{' results.csv' if not csv_same else ''})"
        how = f"in {stage}: resumed in {resumes} run(s)" if resumes else "the run finished first, not killed"
        print(f"kill {k:2d}/{args.kills}: {kill}, {how}: identical {'yes' if ok else 'no'}{what}", flush=True)
    print(f"{identical} / {args.kills} identical")
    return 0 if identical == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
