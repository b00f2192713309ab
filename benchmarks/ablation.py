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

Then the segmentation table (the paper's Table 1 metrics against the truth masks of
held-out wells): the pipeline's U-Net, the U-Net with the paper's optimiser settings,
ResNet-18 / -34 with an FCN head, and the HSV pseudo-labels themselves.

    .venv/bin/python benchmarks/ablation.py [--wells 256] [--size 173] [--seed 0] [--out DIR]
    .venv/bin/python benchmarks/ablation.py --dataset trend=0.5 --no-segmentation   # a harder variant
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


def base_config(wells: int, size: int, seed: int, iterations: int | None = None, dataset: dict | None = None) -> dict:
    config = yaml.safe_load((ROOT / "examples" / "microwell.yaml").read_text())
    config["dataset"]["params"].update(dataset or {})
    if iterations is not None:  # quick smoke runs only; the judged numbers use the example's
        config["encoder"]["params"]["iterations"] = iterations
    config["seed"] = seed
    config["device"] = "cpu"
    config["explainers"] = []
    config["quality"] = False
    config["dataset"]["params"].update(n_wells=wells, size=size)
    return config


def fused_of(params: dict, tokens: np.ndarray, side: np.ndarray, seed: int, side_names: list[str]) -> tuple[np.ndarray, dict]:
    import torch

    import cellxai_core as cx

    fusion = cx.load_component(
        "fusion", "temporal-attention", **{**params, "seed": seed},
        token_dim=tokens.shape[2], side_dim=side.shape[2], set_size=tokens.shape[1], side_names=side_names,
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
    parser.add_argument("--dataset", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra synthetic-microwell params, e.g. trend=0.5 noise=2 (a harder variant)")
    parser.add_argument("--iterations", type=int, help="override the encoders' pre-training steps (smoke runs)")
    parser.add_argument("--no-segmentation", action="store_true", help="skip the encoder segmentation comparison")
    args = parser.parse_args()

    import cellxai_core as cx
    from sklearn.metrics import adjusted_rand_score

    start = time.perf_counter()
    extra = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.dataset)}
    run = cx.run(base_config(args.wells, args.size, args.seed, args.iterations, extra), out=args.out / "run", overwrite=True)
    truth = run.array("samples/truth/program")
    tokens = run.array("features/tokens").astype(np.float32)
    side = run.array("features/handcrafted").astype(np.float32)
    side_names = [str(n) for n in run.store.attrs("features/handcrafted").get("names", [])]
    rows = []

    def add(name: str, labels: np.ndarray, extra: dict | None = None) -> None:
        k = len(set(labels.tolist()) - {-1})
        rows.append({"model": name, "ari": float(adjusted_rand_score(truth, labels)), "k": k,
                     "noise": int((labels == -1).sum()), **(extra or {})})

    add("full (pipeline run)", run.labels)
    fused = {}
    for name, params in FUSION_ROWS.items():
        fused[name], metrics = fused_of(params, tokens, side, args.seed, side_names)
        add(name, cluster("affinity-propagation", {}, fused[name], args.seed),
            {"r2_density": metrics.get("fusion_r2_density"), "r2_trend": metrics.get("fusion_r2_trend")})
    for name, (clusterer, params) in CLUSTER_ROWS.items():
        add(name, cluster(clusterer, params, fused["full"], args.seed))
    flat = side.reshape(len(side), -1)
    flat = (flat - flat.mean(0)) / np.where(flat.std(0) > 0, flat.std(0), 1)
    add("human-designed features only (no fusion)", cluster("affinity-propagation", {}, flat, args.seed))

    print(f"\nsynthetic-microwell: {args.wells} wells, {args.size} px, seed {args.seed} {extra or ''}; "
          f"{time.perf_counter() - start:.0f} s\n")
    print(f"| {'model':42s} | ARI   | k  | noise |")
    print(f"|{'-' * 44}|-------|----|-------|")
    for row in rows:
        print(f"| {row['model']:42s} | {row['ari']:.3f} | {row['k']:2d} | {row['noise']:5d} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    pretrain = run.store.attrs().get("pretrain_metrics", {})
    results = {"pipeline U-Net (examples/microwell.yaml)": pretrain}
    if not args.no_segmentation:
        results.update(segmentation_comparison(run.config, args.seed, args.iterations))
    pseudo = pseudo_label_scores(run.config, wells=64)
    print("\nHSV pseudo-labels against the truth masks of 64 wells (320 images): Dice "
          + ", ".join(f"{cell} {pseudo[f'dc_{cell}']:.3f}" for cell in ("cancer", "t_cell", "dead")))
    print("\nSegmentation against truth masks of held-out wells (percent; one-vs-rest per cell type).")
    print("Every encoder is pre-trained on HSV pseudo-labels only; the last rows score the pseudo-labels themselves.\n")
    print(segmentation_table(results))
    (args.out / "segmentation.json").write_text(json.dumps({**results, "pseudo-labels, 64 wells": pseudo}, indent=2))


ENCODERS = {  # the paper's Table 1 rows that we have, each pre-trained the same way
    "U-Net, paper optimiser (SGD lr 1e-4, 100 it.)": ("unet", {"optimizer": "sgd", "lr": 1e-4, "schedule": "constant", "iterations": 100}),
    "ResNet-18 + FCN head": ("resnet18", {}),
    "ResNet-34 + FCN head": ("resnet34", {}),
}


def segmentation_comparison(config: dict, seed: int, iterations: int | None = None) -> dict[str, dict]:
    """Pre-train each encoder of :data:`ENCODERS` on the run's dataset and score it."""
    import cellxai_core as cx
    from cellxai_core.context import RunContext
    from cellxai_core.datasets.objects import dataset_objects
    from cellxai_core.progress import progress

    dataset = cx.load_dataset(config["dataset"]["name"], **config["dataset"]["params"])
    ctx = RunContext(config=None, dataset=dataset, store=None, run_dir=Path("."), device="cpu", seed=seed, progress=progress)
    shared = {k: v for k, v in config["encoder"]["params"].items() if k not in ("base_channels", "depth", "decoder_tokens")}
    out = {}
    for label, (name, params) in ENCODERS.items():
        arch = config["encoder"]["params"] if name == "unet" else {}
        own = {k: arch[k] for k in ("base_channels", "depth") if k in arch}
        if iterations is not None:
            params = {**params, "iterations": iterations}
        encoder = cx.load_component("encoder", name, in_channels=len(dataset.channels), objects=dataset_objects(dataset),
                                    channels=tuple(dataset.channels), **{**shared, **own, **params, "seed": seed})
        start = time.perf_counter()
        out[label] = {**encoder.pretrain(ctx), "seconds": round(time.perf_counter() - start, 1)}
    return out


def pseudo_label_scores(config: dict, wells: int) -> dict[str, float]:
    """Per-object-class metrics of the pseudo-labels against truth masks over ``wells`` wells."""
    import torch

    import cellxai_core as cx
    from cellxai_core.datasets.objects import dataset_objects
    from cellxai_unet.pseudo import ObjectFinder
    from cellxai_unet.segmetrics import ConfusionCounter

    params = {**config["dataset"]["params"], "n_wells": wells}
    dataset = cx.load_dataset(config["dataset"]["name"], **params)
    finder = ObjectFinder(dataset_objects(dataset), dataset.channels)
    finder.calibrate(torch.from_numpy(np.concatenate([dataset[i].images for i in range(min(wells, 16))])))
    names = ["background", *finder.names]
    counter = ConfusionCounter(len(names))
    for i in range(wells):
        sample = dataset[i]
        counter.update(finder.labels(torch.from_numpy(sample.images)), torch.from_numpy(sample.truth["mask"].astype(np.int64)))
    return counter.metrics(names)


def segmentation_table(results: dict[str, dict]) -> str:
    """The paper's Table 1 layout: Acc, SE, SP, PC, JS, DC (mean over cell types, then per type)."""
    metrics = ("acc", "se", "sp", "pc", "js", "dc")
    lines = [f"| {'model':47s} | cells  |    Acc |     SE |     SP |     PC |     JS |     DC |",
             f"|{'-' * 49}|--------|" + "--------|" * 6]
    pseudo = next(iter(results.values()))
    rows = [(label, "seg", m) for label, m in results.items()] + [("HSV pseudo-labels", "pseudo", pseudo)]
    for label, prefix, m in rows:
        for cell in ("mean", "cancer", "t_cell", "dead"):
            vals = [m.get(f"{prefix}_{k}_{cell}") for k in metrics]
            if None not in vals:
                lines.append(f"| {label if cell == 'mean' else '':47s} | {cell:6s} | " + " | ".join(f"{100 * v:6.2f}" for v in vals) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
