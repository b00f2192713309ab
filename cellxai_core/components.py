"""What each kind of component implements. Protocols only: no torch import here.

Encoders and fusions are ``torch.nn.Module`` subclasses in practice; these protocols
name the attributes and methods the pipeline and the explainers rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .context import RunContext
    from .store import StageWriter


@runtime_checkable
class Encoder(Protocol):
    """Per-image encoder. Built as ``Target(**params, in_channels=C)``.

    ``forward(images)`` maps (N, C, H, W) to tokens (N, D), or to spatial tokens
    (N, L, D) when the fusion attends over positions (MHL family).
    ``out_dim`` is D. ``cam_layer`` is the conv module Grad-CAM reads.

    Optional:
    - ``uses_set_index = True`` and ``forward(images, set_index)``: set_index (N,) long
      tells which position of the set each image is (separate weights per channel).
    - ``pretrain(ctx) -> dict[str, float]``: self-supervised / pseudo-label training
      before encoding (U-Net on HSV pseudo-labels); returns metrics to store.
    - ``handcrafted(images) -> (B, S, F)`` float tensor from (B, S, C, H, W) float
      tensor, with ``handcrafted_names`` (F names): human-designed side features.
    """

    out_dim: int
    cam_layer: Any

    def forward(self, images: Any) -> Any: ...


@runtime_checkable
class Fusion(Protocol):
    """Fusion across the set axis. Built as ``Target(**params, token_dim=D, side_dim=F, set_size=S)``.

    ``forward(tokens, side=None)``: tokens (B, S, D) [side (B, S, F)] -> (B, D').
    ``out_dim`` is D'. After a forward, ``attention`` holds the last attention
    weights (B, ..., S, S) or None.

    Optional:
    - ``fit(tokens, side, ctx) -> dict[str, float]`` trains the fusion on frozen tokens
      (numpy (N, S, D) and (N, S, F) or None) before clustering, e.g. on auxiliary
      targets; returns metrics the pipeline stores in the ``features/fused`` attrs.
    - ``auxiliary(tokens, side) -> dict[str, Tensor]``: outputs of auxiliary heads
      (e.g. ``density`` (B, S, 3), ``trend`` (B, 3)), with ``auxiliary_names``
      (dict key -> list of column names of the last axis). The pipeline stores them
      as ``features/aux/<key>`` with attrs ``names``; the text explainer reads them.
    """

    out_dim: int

    def forward(self, tokens: Any, side: Any = None) -> Any: ...


@runtime_checkable
class Clusterer(Protocol):
    """A scikit-learn style clusterer.

    ``fit_predict(X)`` on (N, D') float features returns labels (N,), -1 = noise.
    After fitting: ``labels_``; where the method has them ``embedding_`` (N, 2),
    ``cluster_centers_indices_``, ``n_iter_``, ``converged_``.
    Clusterers that run on torch accept a ``device`` attribute set by the pipeline.
    """

    def fit_predict(self, X: np.ndarray, y: Any = None) -> np.ndarray: ...


@runtime_checkable
class Explainer(Protocol):
    """Reads a finished run and writes ``explanations/<name>`` through ``out``.

    Class attributes:
    - ``requires``: subset of {"model", "labels", "images"}.
    - ``after``: names of explainers that must run before this one.
    - ``tasks``: the tasks it applies to, ("cluster", "classify").

    ``run(ctx, out)`` writes arrays with ``out.create_array("maps", shape, dtype)``
    (relative to ``explanations/<name>``) and attributes with ``out.attrs[...] = ...``;
    they become visible only when ``run`` returns.
    """

    requires: ClassVar[Sequence[str]]
    after: ClassVar[Sequence[str]]
    tasks: ClassVar[Sequence[str]]

    def run(self, ctx: "RunContext", out: "StageWriter") -> None: ...


@runtime_checkable
class Task(Protocol):
    """What a run computes after the features. Built as ``Target(**params)``; its Params
    fields are top-level sections of the pipeline file (``classify:``, ``quality:``).

    Class attributes:
    - ``trains_model``: True when ``run`` trains encoder + fusion + head itself (classify:
      k-fold training); it then runs before encode, in place of pre-training, and saves the
      kept model with ``ctx.save_model``. False: ``run`` works on ``features/fused`` after fuse.
    - ``prefix: the store group it writes (``clusters``, ``predictions``; see ``schema``).

    Registered with ``needs=("clusterer",)`` when the pipeline file must name those fields.
    ``head_size(dataset)``: outputs of the model's head (classes), None for no head.
    Optional ``input_transform()``: an unfitted torch module the saved model expects in front
    of it (resampling, whitening); its fitted state is saved and restored with the weights.
    ``run(ctx, out)`` writes the task's results through ``out`` (under ``prefix``).
    ``columns(run) -> {name: (N,) values}``: its columns of ``results.csv``.
    """

    trains_model: ClassVar[bool]
    prefix: ClassVar[str]

    def head_size(self, dataset: Any) -> int | None: ...

    def run(self, ctx: "RunContext", out: "StageWriter") -> None: ...

    def columns(self, run: Any) -> dict[str, Any]: ...


class ReportSection(Protocol):
    """What a report section renderer fills: ``render(run, section)`` (``cellxai_report_sections``).

    ``run`` is the opened :class:`cellxai_core.api.Run`. Text arguments are escaped by the
    report; ``raw`` takes HTML the renderer escaped itself. ``figure`` takes a matplotlib
    figure (closed after embedding). Every method returns the section, so calls chain.
    """

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
