"""The Python API (DESIGN §8): run a pipeline, open a finished run."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import schema
from .errors import UserError
from .store import RunStore


class Run:
    """A run directory opened for reading: labels, features, explanations, config."""

    def __init__(self, path: str | Path, *, allow_incomplete: bool = False) -> None:
        self.path = Path(path)
        if not (self.path / "store.zarr").exists():
            raise UserError(f"{self.path}: not a cellxai run directory (no store.zarr)")
        self.store = RunStore(self.path / "store.zarr", mode="r")
        self.status = self.store.attrs().get("status", "unknown")
        if self.status != "complete" and not allow_incomplete:
            raise UserError(f"{self.path}: run is {self.status}, not complete; finish it with `cellxai run ... --resume`")

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, task={self.task!r}, n={len(self.ids)})"

    @cached_property
    def config(self) -> dict[str, Any]:
        return yaml.safe_load((self.path / "config.yaml").read_text())["config"]

    @property
    def task(self) -> str:
        return self.config.get("task", "cluster")

    @property
    def ids(self) -> np.ndarray:
        return schema.ids(self.store)

    @property
    def labels(self) -> np.ndarray | None:
        """Cluster labels (task cluster) or predicted class indices (task classify)."""
        return schema.labels(self.store)

    @property
    def features(self) -> np.ndarray:
        return self.store.read(schema.FUSED)

    def array(self, path: str) -> np.ndarray:
        """Any store array by its path, e.g. ``run.array("features/fused")``; strings as ``str``."""
        if not self.store.has(path):
            raise KeyError(f"{path} not in {self.path / 'store.zarr'}; has: {', '.join(self.store.tree())}")
        return self.store.read(path)

    @property
    def explanations(self) -> dict[str, list[str]]:
        """Explainer name -> the arrays it wrote."""
        return {name: [p for p in self.store.tree() if p.startswith(schema.explanation(name) + "/")]
                for name in self.store.children(schema.EXPLANATIONS)}

    @property
    def stages(self) -> dict[str, Any]:
        return self.store.attrs().get("stages", {})

    def results(self) -> Any:
        """``results.csv`` as a pandas DataFrame (text columns as Python ``str``)."""
        import pandas as pd

        return pd.read_csv(self.path / "results.csv", dtype={"id": str}, keep_default_na=False)


def open_run(path: str | Path, *, allow_incomplete: bool = False) -> Run:
    """Open a run directory written by :func:`run`."""
    return Run(path, allow_incomplete=allow_incomplete)
