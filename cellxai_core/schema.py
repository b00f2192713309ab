"""Every store path and attribute the core and the tasks write, with accessors: whatever reads a store uses these
names. An explainer's results live under :func:`explanation`, named by its plugin, never here. Strings come back as
Python ``str`` in object arrays (scikit-learn rejects numpy's ``StringDType``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .store import RunStore

# -- samples (stage load) ---------------------------------------------------------------
SAMPLES = "samples"
SAMPLE_ID = "samples/id"
META = "samples/meta"  # /<key>, one column per metadata key
TRUTH = "samples/truth"  # /<key>, scalar truth (program, class)
SCALAR_TRUTH = ("program", "class")

# -- features (stages encode, fuse) -------------------------------------------------------
FEATURES = "features"
TOKENS = "features/tokens"  # (N, S, D)
HANDCRAFTED = "features/handcrafted"  # (N, S, F), attrs: names
FUSED = "features/fused"  # (N, D'), attrs: metrics
ATTENTION = "features/attention"
AUX = "features/aux"  # /<key>, attrs: names

# -- task cluster -------------------------------------------------------------------------
CLUSTERS = "clusters"  # attrs: n_clusters, noise_fraction, quality, truth_agreement
CLUSTER_LABELS = "clusters/labels"  # (N,) int32, -1 = noise
CLUSTER_EMBEDDING = "clusters/embedding"  # (N, 2)
CLUSTER_EXEMPLARS = "clusters/exemplars"  # (K,) attrs: method, params, n_iter, converged

# -- task classify ------------------------------------------------------------------------
PREDICTIONS = "predictions"  # attrs: classes, folds, metrics, fold_metrics, ...
PROBA = "predictions/proba"  # (N, n_classes), attrs: classes
PRED = "predictions/pred"
FOLD = "predictions/fold"
ROC = "predictions/roc"  # /<class|micro>/{fpr,tpr,thresholds}
UNCERTAINTY = "predictions/uncertainty"  # /{mean,std,entropy}

# -- explainers, progress, root attrs -------------------------------------------------------
EXPLANATIONS = "explanations"
ROOT_ATTRS = ("config", "plugins", "stages", "status", "device_used", "threads_used", "precision_used", "executor", "pretrain_metrics", "finished", "objects")
OBJECTS = "objects"  # [{name, label, diameter}]: the object classes the encoder measured, diameters resolved


def meta(key: str) -> str:
    return f"{META}/{key}"


def truth(key: str) -> str:
    return f"{TRUTH}/{key}"


def aux(key: str) -> str:
    return f"{AUX}/{key}"


def explanation(name: str, path: str = "") -> str:
    """``explanations/<name>[/<path>]``: where the explainer registered as ``name`` writes."""
    return f"{EXPLANATIONS}/{name}/{path}".rstrip("/")


# -- accessors ------------------------------------------------------------------------------
def as_str(values: Any) -> "np.ndarray":
    """Any array of strings (numpy ``<U``, ``StringDType``, bytes) as an object array of ``str``."""
    import numpy as np

    arr = np.asarray(values)
    out = np.empty(arr.shape, dtype=object)
    out[...] = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel().tolist()] if arr.size else []
    return out


def ids(store: "RunStore") -> "np.ndarray":
    return store.read(SAMPLE_ID)


def objects(store: "RunStore") -> list[dict[str, Any]]:
    """The object classes the run measured (names for text, report and viewers); [] when none were recorded."""
    return [dict(o) for o in store.attrs().get(OBJECTS) or []]


def meta_columns(store: "RunStore") -> dict[str, "np.ndarray"]:
    """Metadata key -> column, in the order the dataset declared them."""
    keys = store.attrs(SAMPLES).get("meta_keys") or store.children(META)
    return {key: store.read(meta(key)) for key in keys if store.has(meta(key))}


def truth_columns(store: "RunStore") -> dict[str, "np.ndarray"]:
    """Scalar truth key -> column (``program``, ``class``), where the dataset has them."""
    return {key: store.read(truth(key)) for key in SCALAR_TRUTH if store.has(truth(key))}


def classes(store: "RunStore") -> list[str]:
    """Class names of a classify run: the ``classes`` attr of ``predictions/proba`` (the one place the
    task writes them), else the dataset's classes recorded by the load stage."""
    names = (store.attrs(PROBA).get("classes") if store.has(PROBA) else None) or (store.attrs(SAMPLES).get("classes") if store.has(SAMPLE_ID) else None)
    return [str(c) for c in names or range(store.array(PROBA).shape[1] if store.has(PROBA) else 0)]


def labels(store: "RunStore") -> "np.ndarray | None":
    """The group of each sample: cluster labels, or the predicted class index; None before the task ran."""
    import numpy as np

    if store.has(CLUSTER_LABELS):
        return store.read(CLUSTER_LABELS).astype(np.int64)
    if store.has(PROBA):
        return store.read(PROBA).argmax(axis=1).astype(np.int64)
    return None


def group_names(store: "RunStore") -> list[str]:
    """Display names of the groups :func:`labels` returns (cluster ids, or class names)."""
    if store.has(CLUSTER_LABELS):
        found = sorted(set(store.read(CLUSTER_LABELS).tolist()))
        return [f"cluster {k}" if k >= 0 else "noise" for k in found]
    return classes(store)
