"""Are the Grad-CAM maps right? Faithfulness of the example runs, measured with ``cellxai evaluate``.

    .venv/bin/python benchmarks/bench_faithfulness.py [--n-samples 64] [--fluorescence] [--run DIR ...]

Without ``--run`` it runs ``examples/microwell.yaml`` (the ``make demo`` pipeline; with
``--fluorescence`` also ``examples/fluorescence.yaml``) into ``benchmarks/out/faithfulness``,
reusing a finished run there, then measures on a seeded subsample:

- energy-based pointing game: the share of Grad-CAM energy inside the truth cell masks,
  printed beside the masks' share of the image (what a uniform map would score);
- deletion: the target's softmax probability as the most salient pixels are removed
  first, area under that curve against the same with a random map;
- model randomisation: Spearman rho between the stored maps and the maps after
  re-initialising the head, then the fusion, then the encoder (low = the maps depend
  on the learned weights).

- class-constant R^2 (U-Net runs): how much of each non-empty map a constant per class of the
  encoder's own argmax explains. Near 1 = the map is a class-weighted segmentation, so the
  energy inside the masks measures the segmentation more than the explanation.

Targets (issue 5, synthetic-microwell): energy inside masks >= 0.80 and deletion AUC
below the random-map baseline. Exits 1 when a microwell target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {"microwell": ROOT / "examples" / "microwell.yaml", "fluorescence": ROOT / "examples" / "fluorescence.yaml"}
TARGET_ENERGY = 0.80


def finished_run(name: str, out: Path, threads: int) -> Path:
    """The example's run directory, run now unless a finished one is already there."""
    import cellxai_core as cx

    run_dir = out / name
    if (run_dir / "results.csv").exists():
        print(f"{name}: reusing the finished run {run_dir}")
        return run_dir
    print(f"{name}: running {EXAMPLES[name].relative_to(ROOT)} into {run_dir} ({threads} threads) ...", flush=True)
    cx.run(EXAMPLES[name], out=run_dir, overrides=["device=cpu"], overwrite=True)
    return run_dir


def measure(run_dir: Path, n_samples: int) -> dict:
    from cellxai_core.pipeline import explain_run

    return explain_run(run_dir, "faithfulness", {"n_samples": n_samples})


def open_context(run_dir: Path):
    """(context, store) of a finished run, as its explainers see them."""
    from cellxai_core.config import load_config
    from cellxai_core.context import RunContext
    from cellxai_core.registry import get_registry
    from cellxai_core.store import RunStore

    import cellxai_core as cx

    registry = get_registry()
    cfg, params = load_config(cx.open_run(run_dir).config, registry=registry)
    ctx = RunContext.open(cfg, params, run_dir, registry)
    ctx.store = RunStore(run_dir / "store.zarr")
    return ctx, ctx.store


def class_constant_r2(run_dir: Path, n_samples: int = 16) -> float | None:
    """Median R^2 of each non-empty map against its mean over each class of the encoder's argmax (None: no ``segment``)."""
    import numpy as np
    import torch

    from cellxai_core.data import load_batch

    ctx, store = open_context(run_dir)
    encoder = ctx.model().encoder
    if not hasattr(encoder, "segment") or not store.has("explanations/gradcam/maps"):
        return None
    maps = store.array("explanations/gradcam/maps")
    picks = np.unique(np.linspace(0, maps.shape[0] - 1, n_samples).astype(int))
    _, images = load_batch(ctx.dataset, [int(i) for i in picks])
    with torch.no_grad():
        classes = encoder.segment(torch.as_tensor(images).flatten(0, 1)).argmax(dim=1).numpy()
    stored = np.stack([np.asarray(maps[int(i)], dtype=np.float64) for i in picks]).reshape(classes.shape)
    r2 = class_constant_r2_of(stored, classes)
    return float(np.median(r2)) if len(r2) else None


def class_constant_r2_of(maps, classes):
    """R^2 of each non-empty (H, W) map of ``maps`` (n, H, W) against its mean over each class of ``classes`` (n, H, W)."""
    import numpy as np

    r2 = []
    for m, c in zip(maps, classes):
        if m.max() > 0:
            fit = np.zeros_like(m)
            for k in np.unique(c):
                fit[c == k] = m[c == k].mean()
            r2.append(1 - ((m - fit) ** 2).sum() / max(((m - m.mean()) ** 2).sum(), 1e-12))
    return np.asarray(r2)


def print_row(run_dir: Path, task: str, attrs: dict) -> bool:
    """One block per run; True when the microwell targets hold (always True for other data)."""
    deletion, game, rand = attrs["deletion"], attrs.get("pointing_game"), attrs.get("randomization")
    print(f"\n{run_dir}  (task {task}, {attrs['n_samples']} samples, seed {attrs['seed']})")
    print(f"  deletion AUC          {deletion['auc']:.3f}   random map {deletion['random_auc']:.3f}   "
          f"samples below random {deletion['fraction_below_random']:.0%}")
    if game:
        ratio = game["energy_inside"] / max(game["mask_area"], 1e-9)
        print(f"  energy inside masks   {game['energy_inside']:.3f}   mask area {game['mask_area']:.3f}   "
              f"({ratio:.1f}x a uniform map, {game['n_images']} images)")
    if rand:
        print("  randomisation rho     " + "   ".join(f"{k} {v:.2f}" for k, v in rand["spearman"].items()))
    r2 = class_constant_r2(run_dir)
    if r2 is not None:
        print(f"  class-constant R^2    {r2:.3f}   (1 = the map is a class-weighted segmentation of the encoder's argmax)")
    if task != "cluster":
        return True
    ok_energy = bool(game) and game["energy_inside"] >= TARGET_ENERGY
    ok_deletion = deletion["auc"] < deletion["random_auc"]
    print(f"  targets: energy >= {TARGET_ENERGY:.2f} {'PASS' if ok_energy else 'FAIL'}, "
          f"deletion AUC < random {'PASS' if ok_deletion else 'FAIL'}")
    return ok_energy and ok_deletion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="*", default=[], help="finished run directories to measure instead of the examples")
    parser.add_argument("--fluorescence", action="store_true", help="also run and measure examples/fluorescence.yaml")
    parser.add_argument("--n-samples", type=int, default=64, help="samples in the faithfulness subsample")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "faithfulness")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    import cellxai_core as cx

    runs = list(args.run) or [finished_run(n, args.out, args.threads)
                              for n in (["microwell", "fluorescence"] if args.fluorescence else ["microwell"])]
    ok = True
    for run_dir in runs:
        task = cx.open_run(run_dir).config["task"]
        ok &= print_row(run_dir, task, measure(run_dir, args.n_samples))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
