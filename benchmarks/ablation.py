"""Ablation of the microwell method on synthetic-microwell (the paper's Tables 2 and 3, as ARI).

One full run of the pipeline (examples/microwell.yaml without explainers: 256 wells,
173 px, seed 0) gives the frozen U-Net tokens and the human-designed features; every
row then trains its own fusion on those same features and clusters its fused vectors,
so the rows differ only in what they ablate:

    full                 temporal attention + human-designed features + trend, AP (PCA, median preference)
    no temporal          mean over days instead of attention (and no cross-day change / slope inputs)
    no human-designed    U-Net tokens only as input (the targets still come from pseudo-labels)
    no trend             no change / slope inputs, no trend head; fused = trajectory shape
    full, t-SNE + AP     the paper's configuration: t-SNE to 2-D, then AP
    full, HDBSCAN        density clustering instead of AP
    human features only  the 18 human-designed features per day, standardised, AP (no fusion)

ARI is against the planted response programs; k is the number of clusters found
(nobody tells AP or HDBSCAN how many there are).

    .venv/bin/python benchmarks/ablation.py [--wells 256] [--size 173] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
FUSION_ROWS = {
    "full": {},
    "no temporal attention": {"temporal": False},
    "no human-designed features": {"use_handcrafted": False},
    "no trend": {"use_trend": False},
}
CLUSTER_ROWS = {
    "full, t-SNE + AP (paper)": ("affinity-propagation", {"reduce": "tsne"}),
    "full, HDBSCAN": ("hdbscan", {}),
}


def base_config(wells: int, size: int, seed: int) -> dict:
    config = yaml.safe_load((ROOT / "examples" / "microwell.yaml").read_text())
    config["seed"] = seed
    config["device"] = "cpu"
    config["explainers"] = []
    config["quality"] = False
    config["dataset"]["params"].update(n_wells=wells, size=size)
    return config


def fused_of(params: dict, tokens: np.ndarray, side: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    import torch

    import cellxai_core as cx

    fusion = cx.load_component(
        "fusion", "temporal-attention", seed=seed, **params,
        token_dim=tokens.shape[2], side_dim=side.shape[2], set_size=tokens.shape[1],
    )
    metrics = fusion.fit(tokens, side)
    with torch.no_grad():
        fused = fusion(torch.from_numpy(tokens), torch.from_numpy(side)).numpy()
    return fused, metrics


def cluster(name: str, params: dict, X: np.ndarray, seed: int) -> np.ndarray:
    import cellxai_core as cx

    from cellxai_core.registry import get_registry

    fields = get_registry().get("clusterer", name).params.model_fields
    seeded = {"random_state": seed} if "random_state" in fields else {}
    clusterer = cx.load_component("clusterer", name, **seeded, **params)
    return np.asarray(clusterer.fit_predict(X))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=256)
    parser.add_argument("--size", type=int, default=173)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "ablation")
    args = parser.parse_args()

    import cellxai_core as cx
    from sklearn.metrics import adjusted_rand_score

    start = time.perf_counter()
    run = cx.run(base_config(args.wells, args.size, args.seed), out=args.out / "run", overwrite=True)
    truth = run.array("samples/truth/program")
    tokens = run.array("features/tokens").astype(np.float32)
    side = run.array("features/handcrafted").astype(np.float32)
    rows = []

    def add(name: str, labels: np.ndarray, extra: dict | None = None) -> None:
        k = len(set(labels.tolist()) - {-1})
        rows.append({"model": name, "ari": float(adjusted_rand_score(truth, labels)), "k": k,
                     "noise": int((labels == -1).sum()), **(extra or {})})

    add("full (pipeline run)", run.labels)
    fused = {}
    for name, params in FUSION_ROWS.items():
        fused[name], metrics = fused_of(params, tokens, side, args.seed)
        add(name, cluster("affinity-propagation", {}, fused[name], args.seed),
            {"r2_density": metrics.get("fusion_r2_density"), "r2_trend": metrics.get("fusion_r2_trend")})
    for name, (clusterer, params) in CLUSTER_ROWS.items():
        add(name, cluster(clusterer, params, fused["full"], args.seed))
    flat = side.reshape(len(side), -1)
    flat = (flat - flat.mean(0)) / np.where(flat.std(0) > 0, flat.std(0), 1)
    add("human-designed features only (no fusion)", cluster("affinity-propagation", {}, flat, args.seed))

    print(f"\nsynthetic-microwell: {args.wells} wells, {args.size} px, seed {args.seed}; "
          f"{time.perf_counter() - start:.0f} s\n")
    print(f"| {'model':42s} | ARI   | k  | noise |")
    print(f"|{'-' * 44}|-------|----|-------|")
    for row in rows:
        print(f"| {row['model']:42s} | {row['ari']:.3f} | {row['k']:2d} | {row['noise']:5d} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    pretrain = run.store.attrs().get("pretrain_metrics", {})
    print("\nU-Net segmentation against truth masks (held-out wells) and HSV pseudo-labels against truth:")
    print(segmentation_table(pretrain))


def segmentation_table(metrics: dict) -> str:
    """The paper's Table 1 layout, per cell type, for the U-Net and for the pseudo-labels."""
    lines = ["| source       | cell type | Acc   | SE    | SP    | PC    | JS    | DC    |",
             "|--------------|-----------|-------|-------|-------|-------|-------|-------|"]
    for source, prefix in (("U-Net", "seg"), ("pseudo-labels", "pseudo")):
        for cell in ("cancer", "t_cell", "dead", "mean"):
            vals = [metrics.get(f"{prefix}_{m}_{cell}") for m in ("acc", "se", "sp", "pc", "js", "dc")]
            if None in vals:
                continue
            lines.append(f"| {source:12s} | {cell:9s} | " + " | ".join(f"{100 * v:5.2f}" for v in vals) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
