"""Report sections of task *cluster*: which wells went together, why, and how sure we are."""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import figures as F
from .images import composite, montage_figure, overlay, stretch
from .page import Section, guarded
from .profiles import Profiles, cluster_signature, load_profiles
from .source import ReportSource

WELLS_PER_CLUSTER = 3
WEAK_ARI = 0.3
MAX_CARDS = 24
MAX_TYPICAL = 12

QUALITY_HELP = {
    "silhouette": "−1…1, higher = clusters better separated",
    "davies_bouldin": "≥ 0, lower = more compact, better separated clusters",
    "stability": "0…1, mean ARI between clusterings of bootstrap resamples; higher = more reproducible",
}


class ClusterReport:
    """Everything the cluster sections share: labels, colours, measurements, texts."""

    def __init__(self, src: ReportSource) -> None:
        self.src = src
        self.labels = src.read("clusters/labels").astype(np.int64)
        self.clusters = sorted(set(self.labels.tolist()))
        self.colours = F.cluster_colours(self.clusters)
        self.attrs = src.attrs("clusters")
        self.fused = src.read("features/fused")
        self.profiles: Profiles | None = load_profiles(src)
        self.exemplar = self._exemplars()
        self.texts = self._texts()
        self.truth_key = next((k for k in ("program", "class") if src.has(f"samples/truth/{k}")), None)
        self.truth = src.read(f"samples/truth/{self.truth_key}") if self.truth_key else None

    def _exemplars(self) -> dict[int, int]:
        out: dict[int, int] = {}
        ex = self.src.read("clusters/exemplars")
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

    def _texts(self) -> dict[int, str]:
        text = self.src.read("explanations/template-text/text")
        if text is None:
            return {}
        ids = self.src.read("explanations/template-text/clusters")
        if ids is None:
            ids = self.src.attrs("explanations/template-text").get("clusters", list(range(len(text))))
        return {int(k): str(t) for k, t in zip(np.asarray(ids).tolist(), text.tolist())}

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


# -- sections ------------------------------------------------------------------------------
def overview(cr: ClusterReport) -> Section:
    src, sec = cr.src, Section("overview", "Clusters at a glance")
    n, k = len(cr.labels), len([c for c in cr.clusters if c >= 0])
    ex_attrs = src.attrs("clusters/exemplars")
    method = ex_attrs.get("method") or (src.config.get("clusterer") or {}).get("name", "?")
    line = f"{k} clusters from {n} {'wells' if src.set_axis == 'time' else 'samples'} ({method}"
    if ex_attrs.get("converged") is not None:
        line += f", {'converged' if ex_attrs['converged'] else 'NOT converged'} after {ex_attrs.get('n_iter')} iterations"
    line += ")."
    noise = float((cr.labels < 0).mean())
    if noise > 0:
        line += f" {noise:.0%} of samples are noise (not assigned to a cluster)."
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
    emb = src.read("clusters/embedding")
    if emb is not None:
        reduce = (src.config.get("clusterer") or {}).get("params", {}).get("reduce")
        axis = {"tsne": "t-SNE", "pca": "PCA"}.get(str(reduce), "embedding")
        sec.figure(F.embedding_scatter(emb, cr.labels, cr.colours, list(cr.exemplar.values()), axis),
                   "Every sample in 2-D, coloured by cluster; stars mark each cluster's exemplar (the well shown first in its card).")
    else:
        sec.note("No 2-D embedding in this run (clusters/embedding missing).")
    prof = cr.profiles
    if prof is not None:
        real = [c for c in cr.clusters if c >= 0]
        z, med, cols = cluster_signature(prof, cr.labels, real, _set_word(src, singular=True))
        sec.figure(F.signature_heatmap(z, [cr.name(c) for c in real], cols, med),
                   f"What sets each cluster apart: median {prof.unit} over the {_set_word(src)}, and its trend (slope per "
                   f"{_set_word(src, singular=True)} in % of the cell type's mean level over all wells), coloured by how far "
                   f"the cluster lies from all samples (red above, blue below). Source: {prof.source}.")
        by_cluster = {c: prof.values[cr.labels == c] for c in cr.clusters}
        sec.figure(F.profiles_over_set(by_cluster, cr.colours, prof.names, src.set_labels(prof.values.shape[1]), prof.unit),
                   f"{prof.unit.capitalize()} of each cell type over the {_set_word(src)}: median per cluster, interquartile range shaded.")
    else:
        sec.note("No per-image measurements (features/handcrafted or features/aux/density) in this run: density and trend plots skipped.")
    _typical(sec, cr)
    return sec


def _typical(sec: Section, cr: ClusterReport) -> None:
    """The geometric-mean well of each cluster, every day, and where the model looks (gmean explainer)."""
    src = cr.src
    shape, cam = src.read("explanations/gmean/shape"), src.read("explanations/gmean/gradcam")
    if shape is None or shape.ndim != 5:
        return
    attrs = src.attrs("explanations/gmean")
    ids = attrs.get("group_ids") or [c for c in cr.clusters if c >= 0]
    sizes = [int((cr.labels == int(k)).sum()) for k in ids]
    shown = sorted(range(len(ids)), key=lambda g: -sizes[g])[:MAX_TYPICAL]
    rows, labels = [], []
    for g in sorted(shown):
        k = ids[g]
        rgb = [stretch(x) for x in composite(shape[g], src.set_axis)]
        rows.append(rgb)
        labels.append(cr.name(int(k)))
        if cam is not None and g < len(cam) and len(cam[g]) == len(rgb):
            maps = cam[g].astype(np.float32)
            rows.append([overlay(x, m / max(float(maps.max()), 1e-6)) for x, m in zip(rgb, maps)])
            labels.append("Grad-CAM")
    cols = src.set_labels(len(rows[0])) if len(rows[0]) > 1 else [""]
    sec.figure(montage_figure(rows, labels, cols, size=72), f"The typical {'well' if src.set_axis == 'time' else 'sample'} of each cluster: the geometric mean of all its images "
               f"(Gmean-Shape) on every {_set_word(src, singular=True)}, and below it the geometric mean of their Grad-CAM maps "
               "(Gmean-GradCAM, scaled to the cluster's maximum; red = where the model looks)."
               + (f" The {MAX_TYPICAL} largest of {len(ids)} clusters." if len(ids) > MAX_TYPICAL else ""), fmt="jpeg")


def truth_table(cr: ClusterReport) -> Section:
    sec = Section("truth", "Clusters vs planted groups")
    if cr.truth is None:
        return sec.note("The dataset has no planted groups (samples/truth/program or class): nothing to compare with. "
                        "Use the quality measures above instead.")
    groups = sorted(set(cr.truth.tolist()), key=str)
    matrix = np.array([[int(((cr.labels == c) & (cr.truth == g)).sum()) for g in groups] for c in cr.clusters])
    agreement = cr.attrs.get("truth_agreement") or {}
    sec.p(f"Adjusted Rand index {agreement.get('ari', float('nan')):.3f} and normalised mutual information "
          f"{agreement.get('nmi', float('nan')):.3f} between clusters and planted {cr.truth_key}s (1 = identical grouping).", "headline")
    sec.figure(F.count_matrix(matrix, [cr.name(c) for c in cr.clusters], [str(g) for g in groups], f"planted {cr.truth_key}", "cluster"),
               f"Number of samples of each planted {cr.truth_key} in each cluster.")
    sec.table(["cluster"] + [str(g) for g in groups] + ["total"],
              [[cr.name(c)] + row.tolist() + [int(row.sum())] for c, row in zip(cr.clusters, matrix)])
    return sec


def cards(cr: ClusterReport) -> Section:
    src = cr.src
    sec = Section("clusters", "Each cluster: what it is and why")
    intra = src.read("explanations/cluster-similarity/intra_mean")
    intra_ids = src.attrs("explanations/cluster-similarity").get("clusters")
    intra_by = dict(zip(intra_ids or [c for c in cr.clusters if c >= 0], [] if intra is None else intra.tolist()))
    if not cr.texts:
        sec.note("No text explanations in this run (add the template-text explainer).")
    if not src.has("explanations/gradcam/maps"):
        sec.note("No Grad-CAM maps in this run (add the gradcam explainer): images shown without overlays.")
    order = sorted(cr.clusters, key=lambda c: (c < 0, -int((cr.labels == c).sum())))
    for c in order[:MAX_CARDS]:
        members = cr.labels == c
        colour = cr.colours[c]
        sec.raw(f'<div class="card" style="border-top-color:{colour}">')
        sec.h3(f"{cr.name(c).capitalize()} · {int(members.sum())} samples ({members.mean():.0%})", swatch=colour)
        if c in cr.texts:
            sec.p(cr.texts[c], "explain")
        facts = [("exemplar", str(src.ids[cr.exemplar[c]]))]
        if cr.truth is not None:
            counts = Counter(cr.truth[members].tolist()).most_common()
            facts.append((f"planted {cr.truth_key}s", ", ".join(f"{g} × {m}" for g, m in counts)))
        if c in intra_by and intra_by[c] is not None:
            facts.append(("mean cosine similarity within", f"{intra_by[c]:.3f}"))
        sec.raw('<div class="cols"><div>')
        sec.kv(facts)
        if cr.profiles is not None:
            _profile_card(sec, cr, c)
        sec.raw("</div><div>")
        _montage(sec, cr, c)
        sec.raw("</div></div></div>")
    if len(order) > MAX_CARDS:
        sec.note(f"{len(order) - MAX_CARDS} smaller clusters not shown as cards.")
    return sec


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
    src = cr.src
    wells = cr.shown_wells(c)
    imgs = [src.images(i) for i in wells]
    if any(im is None for im in imgs):
        if not src.images_note_shown:
            sec.note(src.images_note())
            src.images_note_shown = True
        return
    maps = src.rows("explanations/gradcam/maps", np.asarray(wells))
    rows, labels = [], []
    for r, (i, im) in enumerate(zip(wells, imgs)):
        rgb = [stretch(x) for x in composite(im, src.set_axis)]
        role = "exemplar" if r == 0 else "member"
        rows.append(rgb)
        labels.append(f"{src.ids[i]}\n({role})")
        if maps is not None:
            cams = maps[r].astype(np.float32)
            if len(cams) == len(rgb):
                rows.append([overlay(x, m) for x, m in zip(rgb, cams)])
            else:  # isolated channels shown as one composite: the mean map over channels
                rows.append([overlay(rgb[0], cams.mean(axis=0))])
            labels.append("Grad-CAM")
    cols = src.set_labels(len(rows[0])) if len(rows[0]) > 1 else [""]
    caption = f"The exemplar and {len(wells) - 1} typical member(s) of {cr.name(c)}, every {_set_word(src, singular=True)}"
    if maps is not None:
        caption += "; below each, where the model looked to place it in this cluster (Grad-CAM: red = most important)"
    sec.figure(montage_figure(rows, labels, cols), caption + ".", fmt="jpeg")


def similarity(cr: ClusterReport) -> Section:
    src, sec = cr.src, Section("similarity", "How different are the clusters?")
    inter = src.read("explanations/cluster-similarity/inter")
    if inter is None:
        return sec.note("No cluster-similarity explainer in this run: similarity matrices skipped.")
    attrs = src.attrs("explanations/cluster-similarity")
    ids = attrs.get("clusters") or [c for c in cr.clusters if c >= 0]
    names = [cr.name(int(k)) for k in ids]
    sec.p(f"Mean similarity between cluster centres {attrs.get('inter_mean', float('nan')):.3f}; mean similarity within clusters "
          f"{attrs.get('intra_mean_overall', float('nan')):.3f}. Clusters are distinct when the first is clearly below the second.", "headline")
    sec.figure(F.similarity_matrix(inter, names, "between cluster centres"),
               "Cosine similarity of the cluster centres (mean fused feature vectors).")
    intra = src.read("explanations/cluster-similarity/intra_mean")
    if intra is not None:
        sec.figure(F.bars(list(np.nan_to_num(intra.astype(float), nan=0.0)), names, [cr.colours.get(int(k), "grey") for k in ids],
                          "mean cosine similarity", "within each cluster"),
                   "Mean cosine similarity between the members of each cluster (higher = more homogeneous).")
    for k in ids[:12]:
        m = src.read(f"explanations/cluster-similarity/intra/{k}/similarity")
        if m is not None and len(m) > 1:
            sec.figure(F.similarity_matrix(m, [""] * len(m), f"within {cr.name(int(k))} ({len(m)} members)", annotate=False),
                       f"Cosine similarity between the members of {cr.name(int(k))}.", dpi=60)
    return sec


def cluster_sections(src: ReportSource) -> list[Section]:
    if not src.has("clusters/labels"):
        return [Section("clusters", "Clusters").note("This run has no clusters/labels: the cluster stage did not write results.")]
    cr = ClusterReport(src)
    return [
        guarded("overview", "Clusters at a glance", overview, cr),
        guarded("truth", "Clusters vs planted groups", truth_table, cr),
        guarded("clusters", "Each cluster: what it is and why", cards, cr),
        guarded("similarity", "How different are the clusters?", similarity, cr),
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def _set_word(src: ReportSource, singular: bool = False) -> str:
    word = {"time": "days", "channel": "channels"}.get(src.set_axis, "images")
    return word[:-1] if singular else word
