"""The sample model (encoder per image, fusion across the set, optional head) and its weights. This module imports
torch: the rest of the core imports it only inside the functions that need it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import UserError

def encode_grouped(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Run a per-image encoder on (B, S, C, H, W) -> (B, S, D) or (B, S*L, D) for spatial tokens."""
    b, s = images.shape[:2]
    flat = images.reshape(b * s, *images.shape[2:])
    if getattr(encoder, "uses_set_index", False):
        set_index = torch.arange(s, device=images.device).repeat(b)
        tokens = encoder(flat, set_index)
    else:
        tokens = encoder(flat)
    if tokens.ndim == 2:
        return tokens.reshape(b, s, -1)
    return tokens.reshape(b, s * tokens.shape[1], tokens.shape[2])


def pooled_tokens(tokens: torch.Tensor, set_size: int) -> torch.Tensor:
    """(B, S*L, D) spatial tokens averaged back to one token per image (B, S, D)."""
    b, n, d = tokens.shape
    return tokens.reshape(b, set_size, n // set_size, d).mean(dim=2)


class SampleModel(nn.Module):
    """[input transform ->] encoder -> fusion -> head on (B, S, C, H, W); without a head ``forward`` returns the fused
    vector. ``transform`` (what the task fitted: resampling, whitening) is saved with the weights (docs/architecture.md)."""

    def __init__(
        self, encoder: nn.Module, fusion: nn.Module, head: nn.Module | None = None, transform: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.fusion = fusion
        self.head = head
        self.transform = transform

    @property
    def cam_layer(self) -> nn.Module:
        layer = self.encoder.cam_layer
        module = getattr(self.encoder, layer) if isinstance(layer, str) else layer
        assert isinstance(module, nn.Module), "the encoder's cam_layer must name a module"
        return module

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Raw samples (B, S, C, H, W) as the encoder was trained to see them."""
        return images if self.transform is None else self.transform(images)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        return encode_grouped(self.encoder, self.prepare(images))

    def fuse(self, images: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        return self.fusion(self.tokens(images), side)

    def forward(self, images: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        fused = self.fuse(images, side)
        return fused if self.head is None else self.head(fused)


def resolve_device(device: str) -> torch.device:
    """``auto`` means CUDA when present, else CPU; ``cuda:1`` etc. are checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{device}' requested but CUDA is not available; use --device cpu")
    return dev


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``auto``: bf16 on CUDA that supports it, else fp32; bf16 elsewhere is the user's error (exit 2)."""
    bf16 = torch.device(device).type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "bf16" and not bf16:
        raise UserError(f"precision: bf16 needs a CUDA device with bfloat16 support (device is {device}); use fp32 or auto")
    return ("bf16" if bf16 else "fp32") if precision == "auto" else precision


def pinned(images: Any) -> torch.Tensor:
    """A batch in page-locked memory: its copy to the GPU (``non_blocking``) overlaps compute."""
    return torch.from_numpy(images).pin_memory()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic kernels where cheap."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


MODEL_PARTS = ("encoder", "fusion", "head", "transform")


def state_dict_for_save(modules: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Flatten named modules into one CPU tensor dict for safetensors; copies, since safetensors refuses tensors
    sharing memory (an encoder whose ``cam_layer`` is one of its own layers lists that layer's weights twice)."""
    return {f"{prefix}.{key}": value.detach().cpu().clone(memory_format=torch.contiguous_format)
            for prefix, module in modules.items() if module is not None for key, value in module.state_dict().items()}


def save_weights(path: Path, model: SampleModel) -> None:
    """Write the model's weights (transform included) with safetensors, atomically (tmp file, then rename)."""
    from safetensors.torch import save_file

    tensors = state_dict_for_save({part: getattr(model, part) for part in MODEL_PARTS})
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "cellxai"})
    os.replace(tmp, path)


def load_weights(path: Path, model: SampleModel) -> None:
    """Load weights saved by :func:`save_weights` (no pickle); parts missing from the file keep their init."""
    from safetensors.torch import load_file

    if not path.exists():
        return
    tensors = load_file(str(path))
    for prefix in MODEL_PARTS:
        module = getattr(model, prefix)
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        if module is not None and part:
            module.load_state_dict(part)
