"""What the U-Net and ResNet encoders share: weights loading, pre-training, human-designed features.

A subclass builds its layers in ``build(in_channels)`` and implements ``segment`` (logits
(N, 4, H, W) over background / cancer / T cell / dead) and ``forward`` (tokens (N, D)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from cellxai_core.errors import UserError

from .handcrafted import HANDCRAFTED_NAMES, handcrafted_features
from .hsv import CLASS_NAMES
from .params import PretrainParams, PseudoLabelParams


def load_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """Weights from a .safetensors file or a torch state dict (never unpickles arbitrary objects)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what}: weights file '{path}' does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file is the user's to fix
        raise UserError(f"{what}: cannot read weights '{path}': {type(exc).__name__}: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{what}: weights '{path}' is not a state dict")
    return state


INFERENCE_CHUNK = 8  # images per forward pass when no gradient is needed


def in_chunks(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """``fn`` over ``images`` a few at a time when gradients are off.

    Full-resolution activations of a large batch are hundreds of MB; in small chunks,
    peak memory stays constant whatever the batch size and the allocator reuses its
    buffers instead of mapping fresh pages for every batch (measured: 1.3 s of system
    time per 80 images of 173 px in one pass, none in chunks of 10).
    """
    if torch.is_grad_enabled() or len(images) <= INFERENCE_CHUNK:
        return fn(images)
    return torch.cat([fn(images[i : i + INFERENCE_CHUNK]) for i in range(0, len(images), INFERENCE_CHUNK)])


class SegmentationEncoder(nn.Module):
    """Per-image encoder pre-trained on 4-class segmentation of HSV pseudo-labels (or truth masks)."""

    name = "encoder"
    n_classes = len(CLASS_NAMES)

    def __init__(self, *, in_channels: int, **params: Any) -> None:
        super().__init__()
        shared = {k: v for k, v in params.items() if k in PretrainParams.model_fields}
        self.settings = PretrainParams.model_validate(shared)
        self.in_channels = in_channels
        # HSV features need colour: none for grayscale or many-channel images
        self.handcrafted_names: list[str] = list(HANDCRAFTED_NAMES) if in_channels in (2, 3) else []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.settings.seed)
            self.build(in_channels, **{k: v for k, v in params.items() if k not in shared})
        if self.settings.weights:
            state = self.adapt_state_dict(load_state_dict(self.settings.weights, f"encoder '{self.name}'"))
            try:
                missing, unexpected = self.load_state_dict(state, strict=False)
            except RuntimeError as exc:  # shape mismatch
                first = str(exc).strip().splitlines()[-1].strip()
                raise UserError(f"encoder '{self.name}': weights '{self.settings.weights}' do not fit: {first}") from None
            if unexpected or len(missing) == len(self.state_dict()):
                raise UserError(
                    f"encoder '{self.name}': weights '{self.settings.weights}' do not fit this model "
                    f"({len(missing)} missing, {len(unexpected)} unexpected keys, e.g. "
                    f"{(list(unexpected) or list(missing))[:2]})"
                )
        self.eval()

    # -- to implement -----------------------------------------------------------------
    def build(self, in_channels: int, **architecture: Any) -> None:
        """Create the layers (called under the params' seed)."""
        raise NotImplementedError

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def adapt_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename the keys of foreign weights to this module's (identity by default)."""
        return state

    # -- human-designed features ------------------------------------------------------
    @property
    def pseudo_label_params(self) -> PseudoLabelParams:
        return self.settings.pseudo_labels

    @torch.no_grad()
    def handcrafted(self, images: torch.Tensor) -> torch.Tensor:
        """(B, S, C, H, W) -> (B, S, F) area fractions, counts, changes and slopes (``handcrafted_names``)."""
        return handcrafted_features(images, self.pseudo_label_params)

    # -- pre-training -----------------------------------------------------------------
    def pretrain(self, ctx: Any) -> dict[str, float]:
        """Train on segmentation (pseudo-labels or truth masks); metrics against truth when present."""
        from .pretrain import pretrain_segmentation

        if not self.settings.pretrain or self.settings.iterations == 0:
            return {}
        return pretrain_segmentation(self, ctx, self.settings)
