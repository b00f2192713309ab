"""cellxai explainers: Grad-CAM, Gmean-Shape / Gmean-GradCAM with correlation images, faithfulness.

``grad_cam`` and ``evaluate_run`` are imported lazily so that loading the plugin
registration (``cellxai_gradcam.plugin``) does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["grad_cam", "evaluate_run"]
__version__ = "0.1.0"

_LAZY = {"grad_cam": "cellxai_gradcam.cam", "evaluate_run": "cellxai_gradcam.evaluate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cellxai_gradcam' has no attribute {name!r}")
