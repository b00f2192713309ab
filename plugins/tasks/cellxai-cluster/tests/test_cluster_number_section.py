"""The report section on how the number of clusters was chosen reads the clusterer's recorded sweep."""

from __future__ import annotations

from typing import Any

from cellxai_cluster import report
from cellxai_core import schema


class FakeStore:
    def __init__(self, attrs: dict[str, Any] | None) -> None:
        self._attrs = attrs

    def has(self, path: str) -> bool:
        return path == schema.CLUSTER_EXEMPLARS and self._attrs is not None

    def attrs(self, path: str) -> dict[str, Any]:
        return self._attrs or {}


class FakeRun:
    def __init__(self, attrs: dict[str, Any] | None) -> None:
        self.store = FakeStore(attrs)


class Section:
    def __init__(self) -> None:
        self.out: list[tuple[str, Any]] = []

    def p(self, text: str, cls: str | None = None) -> "Section":
        self.out.append(("p", text))
        return self

    def note(self, text: str) -> "Section":
        self.out.append(("note", text))
        return self

    def table(self, header: Any, rows: Any, caption: str | None = None, left: Any = 1) -> "Section":
        self.out.append(("table", list(rows)))
        return self


def _selection(margin: float | None, ks: tuple[int, ...] = (9, 4, 4)) -> dict[str, Any]:
    cands = [{"preference": -1.0 - i, "n_clusters": k, "silhouette": 0.5 - 0.1 * (k == 9)} for i, k in enumerate(ks)]
    return {"selection": {"rule": "silhouette", "criterion": "silhouette", "candidates": cands, "chosen": 1,
                          "margin": margin}}


def _render(attrs: dict[str, Any] | None) -> list[tuple[str, Any]]:
    sec = Section()
    report.render(FakeRun(attrs), sec)
    return sec.out


def test_clear_and_uncertain_choices_are_told_apart():
    clear = _render(_selection(0.2))
    assert "clear choice" in clear[0][1]
    table = clear[1][1]
    assert [r[0] for r in table] == ["", "kept", ""] and table[1][2] == 4
    assert "uncertain choice" in _render(_selection(0.01))[0][1]


def test_a_negative_margin_says_why_more_clusters_were_kept():
    assert "each separate by themselves" in _render(_selection(-0.05))[0][1]


def test_one_number_everywhere_says_so():
    assert "does not depend on the preference" in _render(_selection(None, ks=(4, 4)))[0][1]


def test_no_sweep_is_a_note_not_a_table():
    out = _render({"selection": {"rule": "median", "candidates": [], "note": "sparse AP: no preference sweep"}})
    assert out == [("note", "The number of clusters was not chosen by a sweep: rule median (sparse AP: no preference sweep).")]
    assert _render(None)[0][0] == "note"
