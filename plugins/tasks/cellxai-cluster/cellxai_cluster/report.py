"""How the number of clusters was chosen, in report.html (``cellxai_report_sections``).

Reads the ``selection`` the clusterer recorded in ``clusters/exemplars`` attrs (Affinity
Propagation's preference sweep, see cellxai-affinity's README) and shows every candidate, the one
kept and how clear the choice was. Clusterers that choose no number record nothing: one line says so.
"""

from __future__ import annotations

from typing import Any

from cellxai_core import schema

MARGIN_CLEAR = 0.05  # silhouette margin above which another number of clusters is clearly worse


def _verdict(selection: dict[str, Any]) -> str:
    margin = selection.get("margin")
    ks = {c["n_clusters"] for c in selection.get("candidates", [])}
    if len(ks) == 1:
        return f"every preference tried gave {ks.pop()} clusters: the number does not depend on the preference."
    if margin is None:
        return "no other number of clusters could be scored."
    if margin < 0:
        return (f"kept although another number of clusters scores {-margin:.3f} higher in overall silhouette: "
                "that one merges groups that each separate by themselves (every kept cluster >= 0.5).")
    if margin >= MARGIN_CLEAR:
        return f"clear choice: the next best number of clusters scores {margin:.3f} lower in silhouette."
    return (f"uncertain choice: another number of clusters scores only {margin:.3f} lower in silhouette "
            f"(below {MARGIN_CLEAR}); read the clusters as one possible grouping, not the only one.")


def render(run: Any, sec: Any) -> None:
    """The sweep table and a one-line verdict on how clear the choice of the number of clusters is."""
    store = run.store
    attrs = store.attrs(schema.CLUSTER_EXEMPLARS) if store.has(schema.CLUSTER_EXEMPLARS) else {}
    selection = attrs.get("selection") or {}
    if not selection.get("candidates"):
        rule = selection.get("rule")
        why = f" ({selection.get('note')})" if selection.get("note") else ""
        sec.note(f"The number of clusters was not chosen by a sweep: rule {rule or 'of the clusterer'}{why}.")
        return
    chosen = selection.get("chosen", 0)
    def num(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    rows = [
        ("kept" if i == chosen else "", f"{c['preference']:.4g}", c["n_clusters"], num(c["silhouette"]),
         num(c.get("min_cluster_silhouette")))
        for i, c in enumerate(selection["candidates"])
    ]
    step = f" Chosen by: {selection['step']}." if selection.get("step") else ""
    sec.p(f"Criterion: {selection.get('criterion', selection.get('rule'))}.{step} {_verdict(selection)}")
    sec.table(["", "preference", "clusters", "silhouette", "worst cluster"], rows,
              caption="Affinity Propagation at each preference tried (higher preference: more clusters)")
