"""Deterministic preprocessing (Perona–Malik diffusion, resampling) and ZCA whitening.

All functions take batched tensors (B, S, C, H, W) and run on their device.
opencv-python-headless has no ``ximgproc`` (anisotropic diffusion lives in opencv-contrib),
so the diffusion is written here, vectorised over the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ClassifySpec, DiffusionSpec, PreprocessSpec


def perona_malik(
    images: torch.Tensor, iterations: int, kappa: float = 0.1, step: float = 0.2, conduction: str = "exponential"
) -> torch.Tensor:
    """Perona–Malik anisotropic diffusion of every (H, W) plane of ``images`` (..., H, W).

    Each step adds ``step`` times the sum over the 4 neighbours of g(d) * d, d the difference
    to the neighbour and g(d) = exp(-(d/kappa)^2) or 1/(1+(d/kappa)^2); borders are
    insulated (replicate padding, no flux). Smooths flat regions, keeps edges above kappa.
    """
    if iterations <= 0:
        return images
    shape = images.shape
    x = images.reshape(-1, 1, shape[-2], shape[-1])
    for _ in range(iterations):
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        diffs = torch.cat(
            [
                padded[..., :-2, 1:-1] - x,  # north
                padded[..., 2:, 1:-1] - x,  # south
                padded[..., 1:-1, 2:] - x,  # east
                padded[..., 1:-1, :-2] - x,  # west
            ],
            dim=1,
        )
        ratio = (diffs / kappa) ** 2
        g = torch.exp(-ratio) if conduction == "exponential" else 1.0 / (1.0 + ratio)
        x = x + step * (g * diffs).sum(dim=1, keepdim=True)
    return x.reshape(shape)


def resample(images: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """Bilinear resize of (B, S, C, H, W) to (B, S, C, *size); antialiased when shrinking."""
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images
    b, s, c, h, w = images.shape
    flat = images.reshape(b * s, c, h, w)
    out = F.interpolate(flat, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(b, s, c, *size)


def preprocess(images: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """Resample then diffuse (B, S, C, H, W); the same for training and held-out images."""
    d: DiffusionSpec = spec.diffusion
    out = resample(images, spec.resample)
    out = perona_malik(out, d.iterations, d.kappa, d.step, d.conduction)
    return out.clamp_(0.0, 1.0) if d.iterations else out


class ZCAWhitening(nn.Module):
    """ZCA whitening of whole samples (S*C*H*W values), fitted on training samples only.

    W = sqrt(eps) * (Cov + eps I)^(-1/2), computed exactly from the thin SVD of the centred
    training matrix (n x d, n << d): directions of variance well above ``eps`` are whitened,
    the others (including every direction the training samples do not span) keep their
    amplitude, so the input stays on the scale the network expects.
    """

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        self.epsilon = float(epsilon)
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("basis", torch.zeros(0, 0))  # (k, d) right singular vectors
        self.register_buffer("gain", torch.zeros(0))  # (k,) per-direction factor minus 1

    @property
    def fitted(self) -> bool:
        return self.mean.numel() > 0

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> "ZCAWhitening":
        """Fit on training samples (n, S, C, H, W)."""
        x = images.reshape(images.shape[0], -1).double()
        mean = x.mean(dim=0)
        _, sing, basis = torch.linalg.svd(x - mean, full_matrices=False)
        variance = sing**2 / max(x.shape[0], 1)
        gain = torch.sqrt(self.epsilon / (variance + self.epsilon)) - 1.0
        self.mean, self.basis, self.gain = mean.float(), basis.float(), gain.float()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError("ZCAWhitening used before fit()")
        x = images.reshape(images.shape[0], -1) - self.mean
        x = x + ((x @ self.basis.T) * self.gain) @ self.basis
        return x.reshape(images.shape)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Take the fitted buffers' shapes from the file (they depend on the training set), on the module's device."""
        for name in ("mean", "basis", "gain"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class InputTransform(nn.Module):
    """Everything the classify task does to a raw sample (B, S, C, H, W) before the model.

    Resampling, diffusion and (fitted) ZCA whitening; the saved model needs it in front
    of it when it is applied to raw dataset images (Grad-CAM, encode).
    """

    def __init__(self, spec: PreprocessSpec, zca: ZCAWhitening | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.zca = zca

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = preprocess(images, self.spec)
        return self.zca(out) if self.zca is not None else out


def input_transform(spec: ClassifySpec, zca: ZCAWhitening | None = None) -> InputTransform | None:
    """The transform a classify config implies (ZCA unfitted unless given), or None when it is the identity."""
    if zca is None and spec.augment.zca:
        zca = ZCAWhitening(spec.augment.zca_epsilon)
    p = spec.preprocess
    if zca is None and p.resample is None and p.diffusion.iterations == 0:
        return None
    return InputTransform(p, zca)
