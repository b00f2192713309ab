"""How the temporal fusion's fused vector is built decides how many clusters AP finds: a grid.

    .venv/bin/python benchmarks/ablation.py                                            # default wells
    .venv/bin/python benchmarks/ablation.py --dataset trend=0.5 --no-segmentation \\
        --out benchmarks/out/ablation_trend05                                          # half the planted change
    .venv/bin/python benchmarks/fused_vector_grid.py [RUN_DIR ...]

The fused vector of ``temporal-attention`` is made of its auxiliary heads' predictions
(cellxai-unet README): trend states ``tanh((z / threshold) ** 3)`` with ``z`` the
predicted trend in standard errors of a noise slope, plus ``shape_weight`` x the
trajectory shape. This script rebuilds alternatives from the stored predictions of
finished runs (``features/aux/trend``, ``features/aux/density`` and the fusion's
``trend_unit`` / ``shape_unit`` in ``model.safetensors``) and clusters each with the
default Affinity Propagation, so the trade-off is measured without retraining anything:
hard states (the default) keep ARI 1.0 on the default wells and fall to 0.27 at half
the change; linear states ``tanh(z / t)`` hold up better there but lose a little on the
default wells.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = [ROOT / "benchmarks/out/ablation/run", ROOT / "benchmarks/out/ablation_trend05/run"]


def predictions(run_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(z (N, 3) trend in noise standard errors, shape (N, S*3) in typical deviations, planted programs)."""
    from safetensors.numpy import load_file

    import cellxai_core as cx

    run = cx.open_run(run_dir)
    units = load_file(str(run_dir / "model.safetensors"))
    trend, density = run.array("features/aux/trend"), run.array("features/aux/density")
    shape = (density - density.mean(axis=1, keepdims=True)) / units["fusion.shape_unit"]
    programs = [str(p) for p in run.array("samples/truth/program")]
    return trend / units["fusion.trend_unit"], shape.reshape(len(trend), -1), programs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="*", default=DEFAULT_RUNS, help="finished microwell runs with truth")
    args = parser.parse_args()
    from sklearn.metrics import adjusted_rand_score

    import cellxai_core as cx

    data = {run: predictions(run) for run in args.runs}
    print("states   t    shape  " + "  ".join(f"{run.parent.name:>22}" for run in data))
    for kind, t, weight in itertools.product(("hard", "linear"), (2.0, 3.0, 4.0), (0.0, 0.1, 0.25)):
        cells = []
        for z, shape, programs in data.values():
            states = np.tanh((z / t) ** 3) if kind == "hard" else np.tanh(z / t)
            features = np.concatenate([states, weight * shape], axis=1)
            labels = cx.load_component("clusterer", "affinity-propagation", random_state=0).fit_predict(features)
            cells.append(f"ARI {adjusted_rand_score(programs, labels):.3f} k={len(set(labels)):2d}")
        default = "  <- default" if (kind, t, weight) == ("hard", 4.0, 0.25) else ""
        print(f"{kind:7} {t:4.1f}  {weight:5.2f}  " + "  ".join(f"{c:>22}" for c in cells) + default, flush=True)


if __name__ == "__main__":
    main()
