"""Train the MHL-CNN, the RGB-CNN and a ResNet baseline on the same folds, then compare them.

    python examples/compare_families.py --out runs/families [--resnet resnet50] [--epochs N]

All three runs use the cells, seed and fold assignment of ``examples/fluorescence.yaml``
(folds depend only on the labels and the seed), so fold k holds out the same cells in
every run, and the same training budget (``--epochs``, default 15 for all three). The
Welch t-tests on each run's per-fold AUC-ROC are Bonferroni-corrected over the three
pairs; the table is also written to ``OUT/compare.csv``. Only the cross-validation is
needed, so no final model is trained and no explainers run. On 2 CPU cores this takes
about half an hour, most of it the ResNet.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import yaml

import cellxai_core as cx
from cellxai_classify.compare import compare_runs, print_table, write_csv

EXAMPLE = Path(__file__).with_name("fluorescence.yaml")


def family_configs(base: dict, resnet: str) -> dict[str, dict]:
    """The three models as pipeline configs: only the encoder, fusion and set axis differ."""
    mhl = copy.deepcopy(base)  # the example: MHL family
    mhl["explainers"] = []
    rgb = copy.deepcopy(mhl)  # stains isolated, a CNN per stain, six channel-attention layers
    rgb["dataset"]["params"]["set_axis"] = "channel"
    rgb["encoder"]["params"]["branches"] = 3
    rgb["fusion"] = {"name": "channel-attention", "params": dict(base["fusion"]["params"])}
    baseline = copy.deepcopy(mhl)  # a plain CNN: global average pooling into the classifier
    baseline["encoder"] = {"name": "backbone", "params": {"arch": resnet, "tokens": "pooled"}}
    baseline["fusion"] = {"name": "mean-pool", "params": {"dropout": 0.3}}
    return {"mhl-cnn": mhl, "rgb-cnn": rgb, resnet: baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/families"))
    parser.add_argument("--resnet", default="resnet18", help="torchvision ResNet of the baseline (resnet18, resnet50 ...)")
    parser.add_argument("--epochs", type=int, default=15, help="classify.epochs of every model")
    parser.add_argument("--metric", default="auc_macro")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    base = yaml.safe_load(EXAMPLE.read_text())
    base["classify"]["epochs"] = args.epochs
    base["classify"]["final_model"] = "none"
    runs = {}
    for name, cfg in family_configs(base, args.resnet).items():
        out = args.out / name
        if (out / "store.zarr").exists() and not args.overwrite:
            print(f"{name}: reusing {out}")
        else:
            print(f"{name}: training ...", flush=True)
            cx.run(cfg, out=out, overwrite=True)
        runs[name] = out
        metrics = cx.open_run(out).store.attrs("predictions")["metrics"][args.metric]
        print(f"{name}: {args.metric} {metrics['mean']:.4f} ± {metrics['sd']:.4f}")
    rows = compare_runs(list(runs.values()), args.metric)
    print_table(rows, alpha=0.05)
    write_csv(rows, args.out / "compare.csv")
    print(f"written: {args.out / 'compare.csv'}")


if __name__ == "__main__":
    main()
