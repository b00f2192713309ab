"""What each kind of component implements: protocols only, no torch (encoders and fusions are ``torch.nn.Module``
subclasses in practice). Their optional parts and what the pipeline does with them: docs/architecture.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .context import RunContext
    from .store import StageWriter


@runtime_checkable
class Encoder(Protocol):
    """``Target(**params, in_channels=C)``: images (N, C, H, W) -> tokens (N, D) (or (N, L, D) spatial).
    ``cam_layer`` is the feature layer Grad-CAM reads. Optional: ``uses_set_index``,
    ``pretrain(ctx)``, ``handcrafted(images)`` with ``handcrafted_names``, ``pseudo_labels(images)``
    -> (N, H, W) int (0 background, k the k-th of the root attr ``objects``; napari shows them)."""

    out_dim: int
    cam_layer: Any

    def forward(self, images: Any) -> Any: ...


@runtime_checkable
class Fusion(Protocol):
    """``Target(**params, token_dim=D, side_dim=F, set_size=S)``: tokens (B, S, D) [+ side (B, S, F)]
    -> (B, D'); ``attention`` after a forward. Optional: ``fit(tokens, side, ctx)``,
    ``auxiliary(tokens, side)`` with ``auxiliary_names``."""

    out_dim: int

    def forward(self, tokens: Any, side: Any = None) -> Any: ...


@runtime_checkable
class Clusterer(Protocol):
    """scikit-learn style: ``fit_predict(X)`` -> labels (N,), -1 = noise; then ``labels_`` and, where the
    method has them, ``embedding_``, ``cluster_centers_indices_``, ``n_iter_``, ``converged_``."""

    def fit_predict(self, X: np.ndarray, y: Any = None) -> np.ndarray: ...


@runtime_checkable
class Explainer(Protocol):
    """``run(ctx, out)`` writes ``explanations/<name>`` through ``out`` (visible when it returns).
    ``requires`` (model, labels, images), ``after`` (explainers before it), ``tasks``."""

    requires: ClassVar[Sequence[str]]
    after: ClassVar[Sequence[str]]
    tasks: ClassVar[Sequence[str]]

    def run(self, ctx: "RunContext", out: "StageWriter") -> None: ...


@runtime_checkable
class Task(Protocol):
    """What a run computes after the features; its Params fields are top-level sections of the file.
    ``trains_model``: ``run`` trains encoder + fusion + head before encode (classify) instead of working
    on ``features/fused`` after fuse. Optional ``input_transform()``. See docs/architecture.md."""

    trains_model: ClassVar[bool]
    prefix: ClassVar[str]

    def head_size(self, dataset: Any) -> int | None: ...

    def run(self, ctx: "RunContext", out: "StageWriter") -> None: ...

    def columns(self, run: Any) -> dict[str, Any]: ...


class ReportSection(Protocol):
    """What ``render(run, section)`` fills (``cellxai_report_sections``); text is escaped by the
    report, ``raw`` takes HTML escaped by the caller, ``figure`` a matplotlib figure."""

    def p(self, text: str, cls: str | None = None) -> "ReportSection": ...

    def note(self, text: str) -> "ReportSection": ...

    def h3(self, text: str, swatch: str | None = None) -> "ReportSection": ...

    def figure(self, fig: Any, caption: str, alt: str | None = None, dpi: int = 100, fmt: str = "png") -> "ReportSection": ...

    def table(
        self, header: Sequence[str], rows: Any, caption: str | None = None, left: int | Sequence[int] = 1
    ) -> "ReportSection": ...

    def kv(self, pairs: Any) -> "ReportSection": ...

    def pre(self, text: str) -> "ReportSection": ...

    def raw(self, snippet: str) -> "ReportSection": ...
