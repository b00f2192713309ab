"""Which U-Net layer should Grad-CAM read? Every candidate measured on the same wells of a finished run.

    .venv/bin/python benchmarks/bench_cam_layers.py --run DIR [--n-samples 24] [--method gradcam]
        [--layers encoder.cell_masks.probabilities,encoder.classifier,encoder.up.2,encoder.stem,encoder.down.2]
        [--label-image nuclei_label.tif]      # tiles of a real image: truth masks from its label image

For each layer, on a seeded subsample of the run's samples, with the run's stored head and
targets: the share of empty maps, the median number of distinct values per non-empty map,
the class-constant R^2 (how much of a map a constant per class of the U-Net's argmax
explains: near 1 = a class-weighted segmentation), the energy inside the truth masks
against their area, both over the images with a map (a uniform map scores the area), and
the deletion AUC over all images against random
maps (paired Wilcoxon, one-sided). Energy inside the masks can be high by construction on
a layer that only lights segmented objects; deletion cannot, so read the two together.
The layer the encoder names (``cam_layer``) is justified by this table (cellxai-gradcam README).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

LAYERS = "encoder.cell_masks.probabilities,encoder.classifier,encoder.up.2,encoder.up.0,encoder.down.2,encoder.stem"


def measure_layer(model, layer_name: str, x, targets, kwargs, masks, classes, method: str) -> dict:
    """Grad-CAM at one layer and its numbers (see the module docstring)."""
    import numpy as np
    import torch
    from scipy.stats import wilcoxon

    from bench_faithfulness import class_constant_r2_of
    from cellxai_gradcam.cam import grad_cam
    from cellxai_gradcam.evaluate import _side_of
    from cellxai_gradcam.faithfulness import curve_auc, deletion_curves, energy_inside

    maps = grad_cam(model, model.get_submodule(layer_name), x, targets, forward_kwargs=kwargs, method=method).clamp(0, 1)
    flat = maps.double().numpy().reshape(-1, *maps.shape[-2:])
    lit = flat.max(axis=(1, 2)) > 0
    energy, area = energy_inside(maps.double(), masks)
    energy, area = energy.numpy().ravel(), area.numpy().ravel()
    lit_images = ~np.isnan(energy)  # the area of the images with a map: an empty map scores nothing
    common = dict(steps=20, baseline="zero", forward_kwargs=_side_of(model, kwargs))
    deletion = curve_auc(deletion_curves(model, x, maps, targets, **common)).numpy()
    noise = torch.rand(maps.shape, generator=torch.Generator().manual_seed(0))
    random = curve_auc(deletion_curves(model, x, noise, targets, **common)).numpy()
    return {
        "empty": float(1 - lit.mean()),
        "distinct": float(np.median([len(np.unique(m.astype(np.float16))) for m in flat[lit]])) if lit.any() else 0.0,
        "r2": float(np.median(class_constant_r2_of(flat, classes.reshape(flat.shape)))) if lit.any() else float("nan"),
        "energy": float(energy[lit_images].mean()) if lit_images.any() else float("nan"),
        "area": float(area[lit_images].mean()) if lit_images.any() else float("nan"),
        "deletion": float(deletion.mean()), "random": float(random.mean()),
        "p": float(wilcoxon(deletion, random, alternative="less").pvalue),
    }


def truth_masks(ctx, store, picks, samples, label_image: Path | None):
    """(n, S, H, W) truth masks: the samples' own, or the tiles' windows of a label image (tiff-stack tiles)."""
    import numpy as np
    import tifffile

    if label_image is None:
        if any(s.truth is None or "mask" not in s.truth for s in samples):
            return None
        return np.stack([np.asarray(s.truth["mask"]) for s in samples])
    labels = tifffile.imread(label_image) > 0
    labels = labels[None] if labels.ndim == 2 else labels
    size = ctx.dataset.image_size
    plane, ty, tx = (np.asarray(store.read(f"samples/meta/{k}"))[picks] for k in ("plane", "tile_y", "tile_x"))
    return np.stack([labels[p, y : y + size[0], x : x + size[1]] for p, y, x in zip(plane, ty, tx)])[:, None].astype(np.int64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished U-Net run with gradcam (e.g. make demo's runs/demo)")
    parser.add_argument("--layers", default=LAYERS, help="comma-separated module paths in the sample model")
    parser.add_argument("--n-samples", type=int, default=24)
    parser.add_argument("--method", default="gradcam", choices=["gradcam", "gradcam++", "hirescam"])
    parser.add_argument("--label-image", type=Path, help="label image whose windows are the tiles' truth masks (runs on tiles of a real image)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from bench_faithfulness import open_context
    from cellxai_core.data import load_batch
    from cellxai_gradcam.modeling import head_from_arrays, side_tensor, with_head

    ctx, store = open_context(args.run)
    base = ctx.model()
    weight, bias = (store.array(f"explanations/gradcam/head_{p}")[...] for p in ("weight", "bias"))
    model = with_head(base, head_from_arrays(weight, bias, torch.device("cpu")))
    picks = np.unique(np.linspace(0, len(ctx.dataset) - 1, args.n_samples).astype(int))
    samples, images = load_batch(ctx.dataset, [int(i) for i in picks])
    found = truth_masks(ctx, store, picks, samples, args.label_image)
    if found is None:
        print("this run's dataset has no truth masks; give --label-image for tiles of a labelled image", file=sys.stderr)
        return 2
    x = torch.as_tensor(images)
    targets = torch.as_tensor(np.asarray(store.array("explanations/gradcam/targets")[...])[picks])
    masks = torch.as_tensor(found)
    with torch.no_grad():
        classes = model.encoder.segment(x.flatten(0, 1)).argmax(dim=1).reshape(masks.shape).numpy()
    print(f"{args.run}: {len(picks)} samples, {args.method}, energy against the truth masks (a uniform map scores the area)")
    print(f"{'layer':34s} {'empty':>6s} {'values':>7s} {'R^2':>6s} {'energy':>7s} {'x area':>7s} {'deletion':>9s} {'random':>7s} {'p':>8s}")
    modules = dict(model.named_modules())
    for name in args.layers.split(","):
        if name not in modules:
            print(f"{name:34s} (not in this model)")
            continue
        r = measure_layer(model, name, x, targets, side_tensor(ctx, picks, torch.device("cpu")), masks, classes, args.method)
        print(f"{name:34s} {r['empty']:6.2f} {r['distinct']:7.0f} {r['r2']:6.3f} {r['energy']:7.3f} "
              f"{r['energy'] / r['area']:6.1f}x {r['deletion']:9.3f} {r['random']:7.3f} {r['p']:8.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
