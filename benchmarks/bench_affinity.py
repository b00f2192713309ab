"""Affinity Propagation: cellxai's torch float32 engine vs scikit-learn on the same similarity matrices.

For each size, blobs in 16 dimensions give one float64 similarity matrix
(-squared euclidean distances) saved to disk; each implementation loads it in a fresh
subprocess and runs AP with the same damping, preference (median), seed and iteration
cap. Time covers the AP call (median, noise, message passing, labels); peak memory is
the rise of the process's peak RSS (VmHWM, reset just before the call) above the
loaded input. A third row runs our estimator from the features (S built in place in
float32, the pipeline's path). Then the t-SNE observation: AP on a 2-D t-SNE of 8 clean
blobs vs AP on the features.

    python benchmarks/bench_affinity.py                 # n = 2,458 and 10,000 (~5 min on 2 idle cores)
    python benchmarks/bench_affinity.py --sizes 1000    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FEATURES = 16
CENTERS = 8
DAMPING = 0.9
SEED = 0
MIB = 1024**2


def blobs(n: int, std: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n, n_features=N_FEATURES, centers=CENTERS, cluster_std=std, random_state=SEED)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(impl: str, data: Path, max_iter: int, out: Path) -> None:
    """Run one implementation once; write its numbers (JSON) and labels (.npy)."""
    import gc

    import torch  # noqa: F401  imported before the measurement starts
    from sklearn.cluster import affinity_propagation as sklearn_ap

    from cellxai_affinity.affinity import AffinityPropagation
    from cellxai_affinity.solver import affinity_propagation

    inp = np.load(data)
    gc.collect()
    rss_before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if impl == "sklearn":
        centers, labels, n_iter = sklearn_ap(
            inp, damping=DAMPING, max_iter=max_iter, random_state=SEED, return_n_iter=True
        )
        converged = n_iter < max_iter
    elif impl == "ours":
        res = affinity_propagation(inp, damping=DAMPING, max_iter=max_iter, random_state=SEED, device="cpu")
        centers, labels, n_iter, converged = res.cluster_centers_indices, res.labels, res.n_iter, res.converged
    else:  # ours from features
        ap = AffinityPropagation(damping=DAMPING, max_iter=max_iter, random_state=SEED, device="cpu", reduce="none", neighbors=0,
                                 preference_rule="median")  # the median preference, as scikit-learn (no silhouette sweep)
        ap.fit(inp)
        centers, labels, n_iter, converged = ap.cluster_centers_indices_, ap.labels_, ap.n_iter_, ap.converged_
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    peak = _status_kib("VmHWM")
    np.save(out.with_suffix(".npy"), np.asarray(labels))
    out.write_text(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_delta_mib": (peak - rss_before) / 1024, "input_mib": inp.nbytes / MIB,
        "n_iter": int(n_iter), "converged": bool(converged), "n_clusters": int(len(centers)),
    }))


def run_worker(impl: str, data: Path, max_iter: int, tmp: Path) -> dict:
    out = tmp / f"{impl}-{data.stem}.json"
    cmd = [sys.executable, __file__, "--worker", impl, str(data), str(max_iter), str(out)]
    subprocess.run(cmd, check=True)
    result = json.loads(out.read_text())
    result["labels"] = np.load(out.with_suffix(".npy"))
    return result


def speed_and_memory(sizes: list[int], caps: dict[int, int], tmp: Path) -> None:
    from sklearn.metrics import adjusted_rand_score, euclidean_distances

    say(
        f"{'n':>6} {'implementation':<14} {'cap':>5} {'wall s':>7} {'cpu s':>7} {'peak MiB':>8} {'iter':>5} "
        f"{'conv':>5} {'K':>3} {'ARI vs sk':>9} {'wall x':>7} {'cpu x':>6} {'mem x':>6}"
    )
    for n in sizes:
        X, _ = blobs(n)
        np.save(tmp / f"X{n}.npy", X)
        np.save(tmp / f"S{n}.npy", -euclidean_distances(X, squared=True))
        cap = caps.get(n, 1000)
        ref = None
        for name, impl, data in (
            ("scikit-learn", "sklearn", f"S{n}.npy"),
            ("cellxai (S)", "ours", f"S{n}.npy"),
            ("cellxai (X)", "ours-features", f"X{n}.npy"),
        ):
            r = run_worker(impl, tmp / data, cap, tmp)
            ref = ref or r
            ari = adjusted_rand_score(ref["labels"], r["labels"])
            say(
                f"{n:>6} {name:<14} {cap:>5} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} {r['peak_delta_mib']:>8.0f} "
                f"{r['n_iter']:>5} {str(r['converged']):>5} {r['n_clusters']:>3} {ari:>9.4f} "
                f"{ref['seconds'] / r['seconds']:>6.2f}x {ref['cpu_seconds'] / r['cpu_seconds']:>5.2f}x "
                f"{ref['peak_delta_mib'] / r['peak_delta_mib']:>5.2f}x"
            )
        say(f"{'':>6} (input: float64 S = {ref['input_mib']:.0f} MiB, loaded before the measurement)")


def say(line: str) -> None:
    print(line, flush=True)


def tsne_vs_features(n: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from cellxai_affinity.affinity import AffinityPropagation

    X, y = blobs(n)
    say(f"AP on {CENTERS} clean blobs (n = {n}, {N_FEATURES}-D): reduction -> clusters, ARI vs planted blobs")
    for reduce in ("none", "pca", "tsne"):
        t0 = time.perf_counter()
        ap = AffinityPropagation(reduce=reduce, device="cpu", random_state=SEED).fit(X)
        say(
            f"  reduce={reduce:<5} clusters {len(ap.cluster_centers_indices_):>3}  ARI {adjusted_rand_score(y, ap.labels_):.3f}"
            f"  converged {ap.converged_}  ({time.perf_counter() - t0:.1f} s)"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2458,10000", help="comma-separated numbers of samples")
    parser.add_argument("--cap-large", type=int, default=150, help="iteration cap for both at n >= 5,000")
    parser.add_argument("--tsne-n", type=int, default=2458, help="samples for the t-SNE observation (0: skip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    caps = {n: (args.cap_large if n >= 5000 else 1000) for n in sizes}
    start = time.perf_counter()
    say(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs, "
        f"torch threads {torch_threads()}")
    with tempfile.TemporaryDirectory(prefix="bench-ap-") as tmp:
        speed_and_memory(sizes, caps, Path(tmp))
    say("damping 0.9, preference = median similarity, random_state 0. wall x / cpu x / mem x = scikit-learn / "
        "ours (wall time, process CPU time, rise of peak RSS during the call)")
    if args.tsne_n:
        say("")
        tsne_vs_features(args.tsne_n)
    say(f"\ntotal {time.perf_counter() - start:.0f} s; load average at end: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()

if __name__ == "__main__":
    main()
