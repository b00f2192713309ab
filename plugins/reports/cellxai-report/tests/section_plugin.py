"""A third-party plugin that adds to the report: a section, results.csv columns, card facts and maps.

Also a section that raises, one whose module does not exist and one for another task, so the
tests can check that a broken or foreign section costs the report nothing.
"""

from __future__ import annotations

import numpy as np

from cellxai_core import hookimpl, schema

CAPTION = "sizes of the clusters, drawn by a test plugin"


def sizes(run) -> dict[int, int]:  # noqa: ANN001
    labels = np.asarray(run.labels)
    return {int(k): int((labels == k).sum()) for k in sorted(set(labels.tolist()))}


def render(run, section) -> None:  # noqa: ANN001
    import matplotlib.pyplot as plt

    found = sizes(run)
    section.p(f"Test plugin: {len(found)} clusters in {len(run.ids)} samples of task {run.task}.")
    section.table(["cluster", "size"], [[f"cluster {k}", n] for k, n in found.items()])
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(range(len(found)), list(found.values()))
    section.figure(fig, CAPTION)


def columns(run) -> dict[str, np.ndarray]:  # noqa: ANN001
    found = sizes(run)
    return {"test_cluster_size": np.asarray([found[int(k)] for k in run.labels], dtype=np.int64)}


def cards(run) -> dict[int, dict]:  # noqa: ANN001
    return {k: {"text": f"Test text of cluster {k}.", "facts": [("test size", n)]} for k, n in sizes(run).items()}


def maps(run, indices) -> np.ndarray:  # noqa: ANN001
    """The same centred blob on every image of the samples asked for (the report draws it over them)."""
    attrs = run.store.attrs(schema.SAMPLES)
    h, w = attrs["image_size"]
    yy, xx = np.mgrid[:h, :w]
    blob = np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (h * w / 8)).astype(np.float32)
    return np.broadcast_to(blob, (len(indices), int(attrs["set_size"]), h, w)).copy()


def broken(run, section) -> None:  # noqa: ANN001
    raise ValueError("boom")


@hookimpl
def cellxai_report_sections(register):
    register("test-sizes", summary="Cluster sizes (test plugin)", target=f"{__name__}:render", tasks=("cluster",),
             order=35, columns=f"{__name__}:columns", cards=f"{__name__}:cards", maps=f"{__name__}:maps",
             maps_label="Test map")
    register("test-broken", summary="A section that fails", target=f"{__name__}:broken", order=36)
    register("test-missing", summary="A section whose module is gone", target="no_such_module_xyz:render", order=37)
    register("test-classify-only", summary="Only for classify runs", target=f"{__name__}:render", tasks=("classify",))
