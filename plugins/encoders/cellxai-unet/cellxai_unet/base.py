"""What the U-Net and ResNet encoders share: object classes, weights loading, pre-training, human-designed features.

The encoder receives the dataset's object classes (``objects``) and channel names from the
pipeline; its segmentation classes are background + those classes. A subclass builds its
layers in ``build(in_channels)`` and implements ``segment`` (logits (N, 1 + K, H, W)) and
``forward`` (tokens (N, D)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from cellxai_core import schema
from cellxai_core.datasets.objects import default_objects, parse_objects
from cellxai_core.errors import UserError

from .handcrafted import feature_names, handcrafted_features
from .params import PretrainParams
from .pseudo import ObjectFinder


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


def channel_argmax(x: torch.Tensor) -> torch.Tensor:
    """``x.argmax(dim=1)`` of (N, K, H, W), first index on ties.

    torch's own (and any integer reduction) runs over a strided axis element by element on
    the CPU: 0.22 s for 40 images of 4 x 173 x 173, against 10 ms for a float ``amax`` and
    one comparison per class.
    """
    top = x.amax(dim=1)
    best = torch.zeros(top.shape, dtype=torch.long, device=x.device)
    for k in reversed(range(1, x.shape[1])):
        best = torch.where(x[:, k] == top, k, best)
    return torch.where(x[:, 0] == top, 0, best)


def one_hot_channels(labels: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """Labels (N, H, W) -> one-hot (N, K, H, W); ``F.one_hot`` + permute is 20x slower on the CPU."""
    index = torch.arange(n_classes, device=labels.device).view(1, -1, *([1] * (labels.dim() - 1)))
    return (labels.unsqueeze(1) == index).to(dtype)


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
    """Per-image encoder pre-trained on segmentation of the object classes' pseudo-labels (or truth masks)."""

    name = "encoder"

    def __init__(
        self, *, in_channels: int, objects: Sequence[Any] | None = None, channels: Sequence[str] | None = None, **params: Any
    ) -> None:
        super().__init__()
        shared = {k: v for k, v in params.items() if k in PretrainParams.model_fields}
        self.settings = PretrainParams.model_validate(shared)
        self.in_channels = in_channels
        channels = tuple(channels or (f"channel {i}" for i in range(in_channels)))
        self.objects = parse_objects(objects) or default_objects(channels)
        self.finder = ObjectFinder(self.objects, channels, self.settings.pseudo_labels)
        self.n_classes = 1 + len(self.objects)  # background + the object classes
        self.class_names = ["background", *self.finder.names]
        self.handcrafted_names: list[str] = feature_names(self.finder.names)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.settings.seed)
            self.build(in_channels, **{k: v for k, v in params.items() if k not in shared})
        if self.settings.weights:
            self._load_weights(self.settings.weights)
        self.eval()

    def _load_weights(self, path: str) -> None:
        state = self.adapt_state_dict(load_state_dict(path, f"encoder '{self.name}'"))
        try:
            missing, unexpected = self.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatch
            first = str(exc).strip().splitlines()[-1].strip()
            raise UserError(f"encoder '{self.name}': weights '{path}' do not fit: {first}") from None
        if unexpected or len(missing) == len(self.state_dict()):
            raise UserError(
                f"encoder '{self.name}': weights '{path}' do not fit this model "
                f"({len(missing)} missing, {len(unexpected)} unexpected keys, e.g. "
                f"{(list(unexpected) or list(missing))[:2]})"
            )

    # -- to implement -----------------------------------------------------------------
    def build(self, in_channels: int, **architecture: Any) -> None:
        """Create the layers (called under the params' seed)."""
        raise NotImplementedError

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def adapt_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename the keys of foreign weights to this module's (identity by default)."""
        return state

    # -- object classes and human-designed features ---------------------------------------
    @torch.no_grad()
    def handcrafted(self, images: torch.Tensor) -> torch.Tensor:
        """(B, S, C, H, W) -> (B, S, F) area, count, brightness, changes and slopes (``handcrafted_names``)."""
        return handcrafted_features(images, self.finder)

    @torch.no_grad()
    def pseudo_labels(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, H, W) segmentation targets: 0 background, k + 1 object class k."""
        return self.finder.labels(images)

    def calibrate(self, ctx: Any) -> dict[str, float]:
        """Estimate ``auto`` diameters and the thresholds on an even sample of the dataset; record the objects."""
        n = len(ctx.dataset)
        picks = np.unique(np.linspace(0, n - 1, min(n, self.settings.pseudo_labels.calibration_samples)).round().astype(int))
        device = self.finder.diameter.device
        images = torch.cat([torch.from_numpy(x).flatten(0, 1) for _, x in ctx.iter_batches(batch_size=8, indices=picks)])
        resolved = self.finder.calibrate(images.to(device))
        store = getattr(ctx, "store", None)
        if store is not None:
            store.set_attrs("", **{schema.OBJECTS: self.described_objects()})
        return resolved

    def described_objects(self) -> list[dict[str, Any]]:
        """[{name, label, diameter}] with diameters resolved: what text, report and viewers name."""
        return [
            {"name": o.name, "label": o.display, "diameter": round(float(d), 2)}
            for o, d in zip(self.objects, self.finder.diameter.tolist())
        ]

    # -- pre-training -----------------------------------------------------------------
    def pretrain(self, ctx: Any) -> dict[str, float]:
        """Calibrate the pseudo-labels, then train on segmentation (pseudo-labels or truth masks)."""
        from .pretrain import pretrain_segmentation

        metrics = self.calibrate(ctx)
        if not self.settings.pretrain or self.settings.iterations == 0:
            return metrics
        return {**metrics, **pretrain_segmentation(self, ctx, self.settings)}
