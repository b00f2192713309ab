"""The classify task (stratified k-fold training and evaluation). Imports torch when used.

    from cellxai_core.classify import run_classify
    result = run_classify(ctx, out)   # {"model": SampleModel, "metrics": {...}, "input_transform": ...}

Importing ``cellxai_core`` never imports this package; importing this package imports
torch only when ``run_classify`` is first looked up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_classify"]


def __getattr__(name: str) -> Any:
    if name == "run_classify":
        from .task import run_classify

        return run_classify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
