"""Report sections of task *cluster*: which wells went together, why, and how sure we are.

Built from the core's and the task's store paths only (``schema``); what the explainers
found comes in through their plugins (their own sections, card parts and maps).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from cellxai_core import schema

from . import figures as F
from .contrib import card_parts
from .images import OVERLAY_SCALE, montage_figure
from .page import Section
from .profiles import Profiles, cluster_signature, load_profiles
from .samples import map_labels, sample_tiles
from .source import ReportSource

WELLS_PER_CLUSTER = 3
WEAK_ARI = 0.3
MAX_CARDS = 24

QUALITY_HELP = {
    "silhouette": "−1…1, higher = clusters better separated",
    "davies_bouldin": "≥ 0, lower = more compact, better separated clusters",
    "stability": "0…1, mean ARI between clusterings of bootstrap resamples; higher = more reproducible",
}


class ClusterReport:
    """Everything the cluster sections share: labels, colours, measurements, the plugins' card parts."""

    def __init__(self, src: ReportSource) -> None:
        self.src = src
        self.labels = src.read(schema.CLUSTER_LABELS).astype(np.int64)
        self.clusters = sorted(set(self.labels.tolist()))
        self.colours = F.cluster_colours(self.clusters)
        self.attrs = src.attrs(schema.CLUSTERS)
        self.fused = src.read(schema.FUSED)
        self.profiles: Profiles | None = load_profiles(src)
        self.exemplar = self._exemplars()
        self.parts = card_parts(src)
        self.truth_key = next((k for k in schema.SCALAR_TRUTH if src.has(schema.truth(k))), None)
        self.truth = src.read(schema.truth(self.truth_key)) if self.truth_key else None

    def _exemplars(self) -> dict[int, int]:
        out: dict[int, int] = {}
        ex = self.src.read(schema.CLUSTER_EXEMPLARS)
        for i in [] if ex is None else ex.tolist():
            if 0 <= i < len(self.labels) and self.labels[i] >= 0:
                out.setdefault(int(self.labels[i]), int(i))
        for k in self.clusters:
            if k not in out:
                members = np.flatnonzero(self.labels == k)
                out[k] = int(members[np.argmin(self._distance(members, members))]) if self.fused is not None else int(members[0])
        return out

    def _distance(self, members: np.ndarray, to: np.ndarray | int) -> np.ndarray:
        X = self.fused[members]
        centre = self.fused[to].mean(axis=0) if isinstance(to, np.ndarray) else self.fused[to]
        return ((X - centre) ** 2).sum(axis=1)

    def name(self, k: int) -> str:
        return "noise" if k < 0 else f"cluster {k}"

    def shown_wells(self, k: int) -> list[int]:
        """The exemplar, then members at the 25th and 50th percentile of distance to it (typical, not outliers)."""
        members = np.flatnonzero(self.labels == k)
        first = self.exemplar.get(k, int(members[0]))
        others = members[members != first]
        if len(others) == 0:
            return [first]
        if self.fused is not None:
            others = others[np.argsort(self._distance(others, first), kind="stable")]
        picks = sorted({int(round(q * (len(others) - 1))) for q in np.linspace(0.0, 0.5, WELLS_PER_CLUSTER - 1)})
        return [first] + [int(others[p]) for p in picks][: WELLS_PER_CLUSTER - 1]


def shared(src: ReportSource) -> ClusterReport | None:
    """The run's :class:`ClusterReport`, made once per report; None when the task wrote no labels."""
    if not src.has(schema.CLUSTER_LABELS):
        return None
    if "cluster" not in src.cache:
        src.cache["cluster"] = ClusterReport(src)
    return src.cache["cluster"]


# -- sections: render(src, section), as every plugin's -------------------------------------
def overview(src: ReportSource, sec: Section) -> None:
    """The headline numbers, the embedding and what sets each cluster apart."""
    cr = shared(src)
    if cr is None:
        sec.note(f"This run has no {schema.CLUSTER_LABELS}: the cluster stage did not write results.")
        return
    n, k = len(cr.labels), len([c for c in cr.clusters if c >= 0])
    ex_attrs = src.attrs(schema.CLUSTER_EXEMPLARS)
    method = ex_attrs.get("method") or (src.config.get("clusterer") or {}).get("name", "?")
    line = f"{k} clusters from {n} {'wells' if src.set_axis == 'time' else 'samples'} ({method}"
    if ex_attrs.get("converged") is not None:
        line += f", {'converged' if ex_attrs['converged'] else 'NOT converged'} after {ex_attrs.get('n_iter')} iterations"
    line += ")."
    noise = float((cr.labels < 0).mean())
    if noise > 0:
        line += f" {noise:.0%} of samples are noise (not assigned to a cluster)."
    singletons = int(np.sum(np.bincount(cr.labels[cr.labels >= 0]) == 1)) if k else 0
    if singletons:
        line += f" {singletons} cluster{'s are' if singletons > 1 else ' is'} a single sample."
    agreement = cr.attrs.get("truth_agreement") or {}
    if agreement:
        line += f" Agreement with the planted groups: ARI {agreement.get('ari', float('nan')):.2f}, NMI {agreement.get('nmi', float('nan')):.2f}."
    sec.p(line, "headline")
    if agreement and agreement.get("ari") is not None and agreement["ari"] < WEAK_ARI:
        sec.note(f"The clusters reproduce the planted groups poorly (ARI {agreement['ari']:.2f}; 1 = identical, 0 = chance): "
                 "read the cards below as groups of similar-looking wells, not as the planted programs.")
    quality = cr.attrs.get("quality") or {}
    rows = [(q, quality[q], QUALITY_HELP[q]) for q in QUALITY_HELP if isinstance(quality.get(q), (int, float))]
    if rows:
        sec.table(["cluster quality (needs no ground truth)", "value", "how to read it"], rows, left=(0, 2))
    emb = src.read(schema.CLUSTER_EMBEDDING)
    if emb is not None:
        reduce = (src.config.get("clusterer") or {}).get("params", {}).get("reduce")
        axis = {"tsne": "t-SNE", "pca": "PCA"}.get(str(reduce), "embedding")
        sec.figure(F.embedding_scatter(emb, cr.labels, cr.colours, list(cr.exemplar.values()), axis),
                   "Every sample in 2-D, coloured by cluster; stars mark each cluster's exemplar (the well shown first in its card).")
    else:
        sec.note(f"No 2-D embedding in this run ({schema.CLUSTER_EMBEDDING} missing).")
    _signature(sec, cr)


def _signature(sec: Section, cr: ClusterReport) -> None:
    """Density and trend of each measure per cluster: a heat map and the profiles over the set."""
    src, prof = cr.src, cr.profiles
    if prof is None:
        sec.note(f"No per-image measurements ({schema.HANDCRAFTED} or {schema.aux('density')}) in this run: "
                 "density and trend plots skipped.")
        return
    real = [c for c in cr.clusters if c >= 0]
    z, med, cols = cluster_signature(prof, cr.labels, real, _set_word(src, singular=True))
    sec.figure(F.signature_heatmap(z, [cr.name(c) for c in real], cols, med),
               f"What sets each cluster apart: median {prof.unit} over the {_set_word(src)}, and its trend (slope per "
               f"{_set_word(src, singular=True)} in % of the cell type's mean level over all wells), coloured by how far "
               f"the cluster lies from all samples (red above, blue below). Source: {prof.source}.")
    by_cluster = {c: prof.values[cr.labels == c] for c in cr.clusters}
    sec.figure(F.profiles_over_set(by_cluster, cr.colours, prof.names, src.set_labels(prof.values.shape[1]), prof.unit),
               f"{prof.unit.capitalize()} of each cell type over the {_set_word(src)}: median per cluster, interquartile range shaded.")


def truth_table(src: ReportSource, sec: Section) -> None:
    """Clusters against the planted groups, when the dataset has them."""
    cr = shared(src)
    if cr is None:
        return
    if cr.truth is None:
        sec.note(f"The dataset has no planted groups ({schema.truth('program')} or class): nothing to compare with. "
                 "Use the quality measures above instead.")
        return
    groups = sorted(set(cr.truth.tolist()), key=str)
    matrix = np.array([[int(((cr.labels == c) & (cr.truth == g)).sum()) for g in groups] for c in cr.clusters])
    agreement = cr.attrs.get("truth_agreement") or {}
    sec.p(f"Adjusted Rand index {agreement.get('ari', float('nan')):.3f} and normalised mutual information "
          f"{agreement.get('nmi', float('nan')):.3f} between clusters and planted {cr.truth_key}s (1 = identical grouping).", "headline")
    sec.figure(F.count_matrix(matrix, [cr.name(c) for c in cr.clusters], [str(g) for g in groups], f"planted {cr.truth_key}", "cluster"),
               f"Number of samples of each planted {cr.truth_key} in each cluster.")
    sec.table(["cluster"] + [str(g) for g in groups] + ["total"],
              [[cr.name(c)] + row.tolist() + [int(row.sum())] for c, row in zip(cr.clusters, matrix)])


def cards(src: ReportSource, sec: Section) -> None:
    """One card per cluster: the plugins' text and facts, its profile against the others, its samples."""
    cr = shared(src)
    if cr is None:
        return
    order = sorted(cr.clusters, key=lambda c: (c < 0, -int((cr.labels == c).sum())))
    for c in order[:MAX_CARDS]:
        members = cr.labels == c
        colour = cr.colours[c]
        part = cr.parts.get(c, {})
        sec.raw(f'<div class="card" style="border-top-color:{colour}">')
        sec.h3(f"{cr.name(c).capitalize()} · {int(members.sum())} samples ({members.mean():.0%})", swatch=colour)
        for text in part.get("text", []):
            sec.p(text, "explain")
        facts = [("exemplar", str(src.ids[cr.exemplar[c]]))]
        if cr.truth is not None:
            counts = Counter(cr.truth[members].tolist()).most_common()
            facts.append((f"planted {cr.truth_key}s", ", ".join(f"{g} × {m}" for g, m in counts)))
        facts += part.get("facts", [])
        sec.kv(facts)
        if cr.profiles is not None:
            _profile_card(sec, cr, c)
        _montage(sec, cr, c)  # full width below: its 192 px tiles are shown at their size
        sec.raw("</div>")
    if len(order) > MAX_CARDS:
        sec.note(f"{len(order) - MAX_CARDS} smaller clusters not shown as cards.")


def _profile_card(sec: Section, cr: ClusterReport, c: int) -> None:
    prof = cr.profiles
    by_cluster = {k: prof.values[cr.labels == k] for k in cr.clusters}
    by_cluster = {k: v for k, v in by_cluster.items() if k != c} | {c: by_cluster[c]}  # drawn last, on top
    sec.figure(F.profiles_over_set(by_cluster, cr.colours, prof.names, cr.src.set_labels(prof.values.shape[1]), prof.unit, highlight=c),
               f"{cr.name(c).capitalize()} (colour, interquartile range shaded) against the other clusters (grey).")
    members, others = cr.labels == c, cr.labels != c
    trend, mean = prof.relative_trend, prof.mean
    med = lambda a, m: float(np.median(a[m])) if m.any() else None  # noqa: E731
    rows = [(name, med(mean[:, f], members), med(mean[:, f], others), _pct(med(trend[:, f], members)), _pct(med(trend[:, f], others)))
            for f, name in enumerate(prof.names)]
    step = _set_word(cr.src, singular=True)
    sec.table(["cell type", f"{prof.unit} (median)", "other clusters", f"trend (%/{step})", "other clusters"], rows)


def _montage(sec: Section, cr: ClusterReport, c: int) -> None:
    """The exemplar and typical members, every set position, each plugin's maps below each."""
    src = cr.src
    wells = cr.shown_wells(c)
    tiles = sample_tiles(src, wells)
    if tiles is None:
        if not src.images_note_shown:
            sec.note(src.images_note())
            src.images_note_shown = True
        return
    rows, labels = [], []
    for r, (i, t) in enumerate(zip(wells, tiles)):
        rows.append(t.images)
        labels.append(f"{src.ids[i]}\n({'exemplar' if r == 0 else 'member'})")
        for label, overlays in t.overlays:
            rows.append(overlays)
            labels.append(label)
    cols = src.set_labels(len(rows[0])) if len(rows[0]) > 1 else [""]
    caption = f"The exemplar and {len(wells) - 1} typical member(s) of {cr.name(c)}, every {_set_word(src, singular=True)}"
    maps = map_labels(tiles)
    if maps:
        caption += (f"; below each, where the model looked to place it in this cluster ({' / '.join(maps)}, "
                    "each map scaled to its own maximum, colour bar; the image in grey underneath; a map that is 0 "
                    "everywhere, no positive evidence, is dimmed and says \"empty map\")")
    sec.figure(montage_figure(rows, labels, cols, colorbar=OVERLAY_SCALE if maps else None), caption + ".")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def _set_word(src: ReportSource, singular: bool = False) -> str:
    word = {"time": "days", "channel": "channels"}.get(src.set_axis, "images")
    return word[:-1] if singular else word
