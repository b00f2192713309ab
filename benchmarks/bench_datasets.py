"""Built-in datasets: generation and reader throughput, memory vs n_wells, and how hard the planted tasks are.

    python benchmarks/bench_datasets.py            # everything (a few minutes on 2 CPU cores)
    python benchmarks/bench_datasets.py --quick    # smaller counts, no CNN

Throughputs are single-threaded (opencv limited to one thread), so they read "per core".
Peak memory is measured in a fresh subprocess per n_wells (resource.ru_maxrss and
tracemalloc while accessing the same number of wells), so it shows whether memory grows
with the size of the dataset.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS: list[tuple[str, str, str]] = []


def row(what: str, value: str, note: str = "") -> None:
    ROWS.append((what, value, note))
    print(f"  {what:<52} {value:>16}  {note}", flush=True)


def timed(fn, repeat: int = 1) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of calling fn ``repeat`` times."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def generation(n_wells: int, n_cells: int) -> None:
    from cellxai_core.datasets.fluorescence import SyntheticFluorescence
    from cellxai_core.datasets.microwell import SyntheticMicrowell

    ds = SyntheticMicrowell(n_wells=n_wells)
    ds[0]
    wall, cpu = timed(lambda: [ds[i] for i in range(n_wells)])
    row("synthetic-microwell 5 x 173 x 173 (wells/s)", f"{n_wells / wall:.1f}", f"CPU {n_wells / cpu:.1f} wells/s, {n_wells} wells")
    for size, count in ((128, n_cells), (512, max(8, n_cells // 16))):
        fl = SyntheticFluorescence(n_cells=count, size=size)
        wall, cpu = timed(lambda: [fl[i] for i in range(count)])
        row(f"synthetic-fluorescence {size} px (cells/s)", f"{count / wall:.1f}", f"CPU {count / cpu:.1f} cells/s, {count} cells")


def readers(n_samples: int) -> None:
    import cv2
    import tifffile

    from cellxai_core.datasets.image_folder import ImageFolder
    from cellxai_core.datasets.microwell import SyntheticMicrowell
    from cellxai_core.datasets.tiff_stack import TiffStack

    source = SyntheticMicrowell(n_wells=n_samples, size=173)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "png").mkdir()
        (root / "tif").mkdir()
        for i in range(n_samples):
            for day, image in enumerate(source[i].images):
                rgb = np.rint(image.transpose(1, 2, 0) * 255).astype(np.uint8)
                cv2.imwrite(str(root / "png" / f"w{i:04d}_{day}.png"), rgb[..., ::-1])
                tifffile.imwrite(root / "tif" / f"w{i:04d}_{day}.tif", np.rint(image * 65535).astype(np.uint16), metadata={"axes": "CYX"})
        n_images = n_samples * 5
        for kind in ("png", "tif"):
            for normalize in ("dtype", "percentile"):
                opened: list = []
                wall_open, _ = timed(lambda: opened.append(ImageFolder(str(root / kind), pattern=f"{{well}}_{{day}}.{kind}", normalize=normalize)))
                ds = opened[0]
                wall, cpu = timed(lambda: [ds[i] for i in range(len(ds))])
                row(
                    f"image-folder {kind.upper()} 173 x 173 x 3, {normalize} (images/s)",
                    f"{n_images / wall:.0f}",
                    f"open + header check {n_images / wall_open:.0f} files/s",
                )
        movie = np.rint(np.stack([source[i % n_samples].images[i % 5] for i in range(100)]) * 65535).astype(np.uint16)
        tifffile.imwrite(root / "movie.ome.tif", movie, metadata={"axes": "TCYX"})
        stack = TiffStack(str(root / "movie.ome.tif"), tile=64, stride=32, frames=5, windows=4, normalize="dtype")
        wall, _ = timed(lambda: [stack[i] for i in range(len(stack))])
        row("tiff-stack 100 x 3 x 173 x 173, 64 px tiles (images/s)", f"{len(stack) * 5 / wall:.0f}", f"{len(stack)} samples")


MEMORY_CHILD = """
import json, resource, sys, tracemalloc
import numpy as np
from cellxai_core.datasets.microwell import SyntheticMicrowell
n_wells, n_access = int(sys.argv[1]), int(sys.argv[2])
ds = SyntheticMicrowell(n_wells=n_wells)
indices = np.linspace(0, n_wells - 1, n_access).astype(int)
tracemalloc.start()
for i in indices:
    ds[int(i)]
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "traced_mb": peak / 2**20}))
"""


def memory(n_access: int) -> None:
    for n_wells in (256, 2_458, 10_000):
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(n_wells), str(n_access)], capture_output=True, text=True, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        row(f"peak memory, n_wells = {n_wells:,}, {n_access} wells read", f"{got['rss_mb']:.0f} MB RSS", f"traced peak {got['traced_mb']:.1f} MB")


def programs_table(n_wells: int) -> None:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from cellxai_core.datasets.microwell import SyntheticMicrowell

    ds = SyntheticMicrowell(n_wells=n_wells, seed=1)
    counts = np.stack([ds.planned_counts(i) for i in range(n_wells)]).astype(float)
    programs = np.array([ds.program(i) for i in range(n_wells)])

    def accuracy(x: np.ndarray) -> float:
        models = (LinearDiscriminantAnalysis(), QuadraticDiscriminantAnalysis(), KNeighborsClassifier(75))
        return max(cross_val_score(m, x, programs, cv=5).mean() for m in models)

    for day in range(5):
        row(f"program accuracy from day {day + 1} counts (chance 0.25)", f"{accuracy(counts[:, day]):.3f}", "best of LDA / QDA / 75-NN, 5-fold")
    row("program accuracy from time-averaged counts", f"{accuracy(counts.mean(1)):.3f}")
    row("program accuracy from ordered slopes", f"{accuracy((counts * (np.arange(5) - 2.0)[None, :, None]).sum(1)):.3f}")


def fluorescence_difficulty(n_cells: int, epochs: int) -> None:
    """AUC of a trivial baseline (mean intensities) and of a small CNN trained on the images."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from cellxai_core.datasets.fluorescence import SyntheticFluorescence

    torch.manual_seed(0)
    ds = SyntheticFluorescence(n_cells=n_cells, size=64, seed=0)
    samples = [ds[i] for i in range(n_cells)]
    x = np.stack([s.images[0] for s in samples])
    y = np.array([s.truth["class"] == "metastatic" for s in samples], dtype=np.int64)
    tr, te = train_test_split(np.arange(n_cells), test_size=0.25, stratify=y, random_state=0)
    means = x.mean(axis=(2, 3))
    trivial = LogisticRegression(max_iter=1000).fit(means[tr], y[tr]).predict_proba(means[te])[:, 1]
    row("fluorescence AUC, logistic regression on channel means", f"{roc_auc_score(y[te], trivial):.3f}", f"{len(te)} held-out cells")

    scale = x[tr].reshape(len(tr), 3, -1).std(axis=(0, 2))[None, :, None, None]
    xt = torch.tensor(x / scale, dtype=torch.float32)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Dropout(0.3), torch.nn.Linear(64, 2),
    )
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for batch in np.array_split(np.random.default_rng(_).permutation(tr), max(1, len(tr) // 32)):
            xb = xt[batch]
            if np.random.default_rng(len(batch) + _).random() < 0.5:
                xb = xb.flip(-1)
            loss = torch.nn.functional.cross_entropy(net(xb), torch.tensor(y[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        proba = torch.softmax(net(xt[te]), 1)[:, 1].numpy()
    row(
        "fluorescence AUC, 3-layer CNN on the images",
        f"{roc_auc_score(y[te], proba):.3f}",
        f"{len(tr)} training cells, {epochs} epochs, {time.perf_counter() - start:.0f} s",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, no CNN")
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    quick = args.quick
    print("== generation")
    generation(n_wells=20 if quick else 100, n_cells=64 if quick else 256)
    print("== readers")
    readers(n_samples=20 if quick else 100)
    print("== memory (subprocess per row)")
    memory(n_access=10 if quick else 30)
    print("== planted programs")
    programs_table(n_wells=1200 if quick else 6000)
    print("== fluorescence difficulty (default difficulty 0.5)")
    if not quick:
        fluorescence_difficulty(n_cells=1024, epochs=25)
    print("\n| measurement | value | note |\n|---|---|---|")
    for what, value, note in ROWS:
        print(f"| {what} | {value} | {note} |")


if __name__ == "__main__":
    main()
