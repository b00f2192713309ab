"""User-supplied backbone weights: safetensors, or a torch state dict read with weights_only=True.

Two layouts are accepted: a state dict of this encoder (keys ``branches.0. ...``, as in a
run's ``model.safetensors`` under ``encoder.``) or one of the torchvision model (or cnn3)
itself (keys ``layer1.0.conv1.weight`` ...), which is loaded into every branch. Classifier
keys of a torchvision model are ignored. A 3-channel first convolution is summed over its
input channels when the encoder takes 1 channel (an isolated stain).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cellxai_core.errors import ConfigError, DataError

from .backbones import HEAD_NAMES

WRAPPER = "module."  # torch DataParallel / DDP
PARTS = ("encoder.", "backbone.")  # a run's model.safetensors holds encoder., fusion., head.


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file; of a whole model's file only the ``encoder.`` (or ``backbone.``) part."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"encoder.params.weights: file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"encoder.params.weights: cannot read {path}: {type(exc).__name__}: {exc}") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"encoder.params.weights: {path} is not a state dict of tensors")
    if state and all(k.startswith(WRAPPER) for k in state):
        state = {k[len(WRAPPER) :]: v for k, v in state.items()}
    for part in PARTS:
        if any(k.startswith(part) for k in state):
            return {k[len(part) :]: v for k, v in state.items() if k.startswith(part)}
    return state


def _fit_first_conv(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], path: Path) -> None:
    """Sum 3-channel first-conv weights to the encoder's 1 channel (in place); other mismatches are errors."""
    for key, value in list(state.items()):
        target = own.get(key)
        if target is None or value.shape == target.shape:
            continue
        same_but_channels = value.ndim == 4 and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]
        if same_but_channels and target.shape[1] == 1:
            state[key] = value.sum(dim=1, keepdim=True)
            continue
        raise ConfigError(
            f"encoder.params.weights: {path}: '{key}' has shape {tuple(value.shape)}, "
            f"the encoder expects {tuple(target.shape)}"
        )


def load_backbone_weights(encoder: nn.Module, branches: nn.ModuleList, path: Path) -> None:
    """Load ``path`` into the encoder (its own layout) or into every branch (backbone layout)."""
    state = read_state_dict(path)
    own = encoder.state_dict()
    if any(k.startswith("branches.") for k in state):
        _fit_first_conv(state, own, path)
        missing, unexpected = encoder.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("project.")]
    else:
        state = {k: v for k, v in state.items() if k.split(".")[0] not in HEAD_NAMES}
        branch_own = branches[0].state_dict()
        _fit_first_conv(state, branch_own, path)
        missing, unexpected = [], []
        for branch in branches:
            m, u = branch.load_state_dict(state, strict=False)
            missing, unexpected = list(m), list(u)
    if missing or unexpected:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected))
            if keys
        )
        raise ConfigError(f"encoder.params.weights: {path} does not match the backbone ({detail})")
