"""The model Grad-CAM explains: the run's sample model with the head that scores the targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cellxai_core import schema
from cellxai_core.errors import UserError
from cellxai_core.model import SampleModel


def with_head(base: Any, head: nn.Module | None) -> SampleModel:
    """``SampleModel(encoder, fusion, head)`` sharing the run model's encoder and fusion, eval mode."""
    model = SampleModel(base.encoder, base.fusion, head if head is not None else base.head, getattr(base, "transform", None))
    if model.head is None:
        raise UserError("gradcam: the run's model has no head to explain (task classify needs a trained classifier)")
    return model.eval()


def head_from_arrays(weight: np.ndarray, bias: np.ndarray, device: torch.device) -> nn.Linear:
    """The stored linear head (``explanations/gradcam/head_weight`` / ``head_bias``) as a module."""
    head = nn.Linear(weight.shape[1], weight.shape[0]).to(device)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight))
        head.bias.copy_(torch.as_tensor(bias))
    return head.requires_grad_(False).eval()


def resolve_layer(model: nn.Module, path: str | None) -> tuple[str, nn.Module]:
    """(dotted name, module) of the explained layer: ``path`` if given, else the encoder's ``cam_layer``."""
    if path:
        try:
            return path, model.get_submodule(path)
        except AttributeError:
            raise UserError(f"gradcam: params.layer: no module '{path}' in the sample model") from None
    layer = getattr(model, "cam_layer", None)
    if not isinstance(layer, nn.Module):
        raise UserError("gradcam: the encoder names no cam_layer; set params.layer to a conv module path")
    name = next((n for n, m in model.named_modules() if m is layer), None)
    if name is None:
        raise UserError("gradcam: the encoder's cam_layer is not a submodule of the model; set params.layer")
    return name, layer


def side_tensor(ctx: Any, indices: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    """``{"side": (B, S, F)}`` when the run has human-designed features, else ``{}``."""
    side = ctx.side_features(indices)
    return {} if side is None else {"side": torch.as_tensor(side, dtype=torch.float32, device=device)}


def class_names(store: Any) -> list[str]:
    """Names of the classifier's outputs (``schema.classes``: the ``predictions/proba`` attrs)."""
    return schema.classes(store) if store.has(schema.PROBA) else []
