"""Clustering at 10^3 - 10^5 samples: dense AP, sparse AP, scikit-learn's AP and HDBSCAN side by side.

For each N, 16-d blobs with 8 planted groups (``make_blobs``, cluster_std 1, seed 0:
well separated) are clustered by each method in a fresh subprocess, so that its peak
RSS (``resource.getrusage`` in the child: imports included, the largest resident size
the process ever had) is its own; "before fit" is that peak after imports and data
(torch alone is ~590 MiB here). Time covers the fit only. ARI is against the planted
groups. A method whose memory estimate exceeds ``--memory-limit-gb`` is skipped with
the reason printed instead of being run into swap or the OOM killer; so is one that
runs past ``--timeout`` seconds.

- dense AP: ``affinity-propagation`` with ``neighbors: 0`` (three N x N float32 matrices)
- sparse AP: ``affinity-propagation`` with ``neighbors: 15`` (kNN levels, then dense AP on the groups)
- scikit-learn AP: ``sklearn.cluster.AffinityPropagation`` (five N x N float64 matrices)
- HDBSCAN: the ``hdbscan`` clusterer plugin (``min_cluster_size`` 5, its default)

All AP runs use damping 0.9, max_iter 1000, convergence_iter 15, the median preference
and random_state 0; every method clusters the raw features (``reduce: none``).

Then encode through each executor (``--encode-wells``, 0 skips it): the microwell pipeline
(examples/microwell.yaml, 173 px x 5 days, a short U-Net pre-training, no explainers) on the
same wells with ``executor: local`` and on a ``LocalCluster`` of 1 and 2 worker processes
(1 torch thread each; the local run also gets 1). Reported: the encode stage's seconds, the whole
run's, the client's peak RSS and the largest worker's (``RUSAGE_CHILDREN``), and whether the
tokens equal the local run's.

    OMP_NUM_THREADS=2 python benchmarks/bench_scale.py                       # N = 1,000, 10,000, 100,000 (~10 min on 2 cores)
    OMP_NUM_THREADS=2 python benchmarks/bench_scale.py --sizes 1000,5000     # quick
    python benchmarks/bench_scale.py --methods none --encode-wells 128       # the executor rows only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

GIB = 1024**3
N_FEATURES = 16
CENTERS = 8
SEED = 0
METHODS = ("dense AP", "sparse AP", "scikit-learn AP", "HDBSCAN")
AP_KW = dict(damping=0.9, max_iter=1000, convergence_iter=15, random_state=SEED)


def blobs(n: int):
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n, n_features=N_FEATURES, centers=CENTERS, cluster_std=1.0, random_state=SEED)


def estimate_gib(method: str, n: int) -> float:
    """Memory a method needs at N samples, from its N x N matrices (0 for the O(N) ones).

    Plain arithmetic: the parent imports nothing heavy, because a child forked from it
    starts with the parent's resident size as its peak (Linux keeps ru_maxrss across exec).
    """
    if method == "dense AP":
        return 3 * 4 * n * n / GIB  # S, R, A in float32 (cellxai_affinity.memory adds work blocks)
    if method == "scikit-learn AP":
        return 5 * 8 * n * n / GIB  # S, R, A and two temporaries, float64
    return 0.0


def child(method: str, n: int) -> None:
    """Fit one method once; print one JSON line with seconds, peak RSS, ARI and cluster count."""
    import resource

    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs(n)
    if method == "scikit-learn AP":
        from sklearn.cluster import AffinityPropagation as Estimator

        model = Estimator(**AP_KW)
    elif method == "HDBSCAN":
        from cellxai_hdbscan.estimator import HDBSCAN

        model = HDBSCAN(reduce="none")
    else:
        from cellxai_affinity.affinity import AffinityPropagation

        model = AffinityPropagation(device="cpu", reduce="none", neighbors=0 if method == "dense AP" else 15, **AP_KW)
    base_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    labels = np.asarray(model.fit_predict(X))
    seconds = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clusters = len(set(labels.tolist()) - {-1})
    print(json.dumps({
        "seconds": seconds, "peak_mib": peak_mib, "base_mib": base_mib, "ari": adjusted_rand_score(y, labels), "clusters": clusters,
        "noise": float((labels == -1).mean()), "converged": bool(getattr(model, "converged_", True)),
        "n_iter": int(getattr(model, "n_iter_", 0) or 0),
    }))


def run_child(method: str, n: int, timeout: float) -> dict | str:
    """The child's numbers, or the reason it gave none."""
    cmd = [sys.executable, __file__, "--child", method, str(n)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:.0f} s"
    if proc.returncode != 0:
        return f"failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def row(n: int, method: str, result: dict | str) -> str:
    if isinstance(result, str):
        return f"| {n:,} | {method} | - | - | - | - | - | {result} |"
    note = "" if result["converged"] else f"did not converge ({result['n_iter']} iterations)"
    if result["noise"]:
        note = f"{result['noise']:.1%} noise " + note
    return (f"| {n:,} | {method} | {result['seconds']:.1f} | {result['peak_mib']:,.0f} | {result['base_mib']:,.0f} | {result['ari']:.3f} | "
            f"{result['clusters']} | {note.strip()} |")


def clustering_rows(methods: list[str], sizes: list[int], memory_limit_gb: float, timeout: float) -> None:
    print("\n| N | method | fit s | peak RSS MiB | before fit MiB | ARI vs planted | clusters | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for n in sizes:
        for method in methods:
            need = estimate_gib(method, n)
            if need > memory_limit_gb:
                result: dict | str = f"skipped: needs ~{need:,.1f} GiB (N x N matrices) > {memory_limit_gb:g} GiB limit"
            else:
                result = run_child(method, n, timeout)
            print(row(n, method, result), flush=True)
    print(f"\n16-d blobs, {CENTERS} planted groups, cluster_std 1; peak RSS of the child process (imports included).")


EXECUTORS = {"local": {"name": "local"}, "dask, 1 worker": {"name": "dask", "workers": 1},
             "dask, 2 workers": {"name": "dask", "workers": 2}}


def encode_child(executor: str, wells: int, out: str) -> None:
    """One microwell run through ``executor``; print one JSON line with its seconds and peak RSS."""
    import resource
    from pathlib import Path

    import yaml

    import cellxai_core as cx

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "examples" / "microwell.yaml").read_text())
    config["dataset"]["params"]["n_wells"] = wells
    config["encoder"]["params"]["iterations"] = 10
    config.update(device="cpu", threads=1, explainers=[], quality=False, executor=EXECUTORS[executor], chunk_size=16)
    t0 = time.perf_counter()
    run = cx.run(config, out=out, overwrite=True)
    print(json.dumps({
        "encode_s": run.stages["encode"]["seconds"], "total_s": time.perf_counter() - t0,
        "client_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def encode_rows(wells: int, timeout: float) -> None:
    import tempfile

    import numpy as np
    import zarr

    print("\n| executor | wells | encode s | run s | client peak RSS MiB | largest worker peak RSS MiB | tokens equal local |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-encode-") as tmp:
        tokens: dict[str, object] = {}
        for name in EXECUTORS:
            out = os.path.join(tmp, name.replace(" ", "_").replace(",", ""))
            cmd = [sys.executable, __file__, "--encode-child", name, str(wells), out]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"| {name} | {wells} | stopped after {timeout:.0f} s | | | | |", flush=True)
                continue
            if proc.returncode != 0:
                print(f"| {name} | {wells} | failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]} | | | | |", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            tokens[name] = np.asarray(zarr.open_array(os.path.join(out, "store.zarr", "features", "tokens"), mode="r")[...])
            same = "-" if name == "local" else str(bool(np.array_equal(tokens[name], tokens.get("local"))))
            worker = "-" if name == "local" else f"{r['worker_mib']:,.0f}"
            print(f"| {name} | {wells} | {r['encode_s']:.1f} | {r['total_s']:.1f} | {r['client_mib']:,.0f} | {worker} | {same} |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--encode-child":
        encode_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of samples")
    parser.add_argument("--memory-limit-gb", type=float, default=4.0, help="skip a method whose estimate exceeds this")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one fit may take (child process)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS) + " (none: skip)")
    parser.add_argument("--encode-wells", type=int, default=128, help="wells of the encode-per-executor rows (0: skip them)")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "none"]
    start = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)
    if methods:
        clustering_rows(methods, [int(n) for n in args.sizes.split(",")], args.memory_limit_gb, args.timeout)
    if args.encode_wells:
        encode_rows(args.encode_wells, args.timeout)
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
