"""Random rotation and shift of training samples, vectorised over the batch.

torchvision's ``v2.RandomAffine`` draws one set of parameters per call (one per batch),
so per-sample parameters would need a Python loop per image; this builds all the
sample matrices at once and resamples with one ``grid_sample``. The geometry follows
``torchvision.transforms.v2.functional.affine`` (rotation about the image centre, then
translation, zeros outside), which the tests check. All images of a sample (its
isolated channels or time points) get the same transform, so they stay aligned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def affine_matrices(
    angles_deg: torch.Tensor, shifts_px: torch.Tensor, height: int, width: int, flips: torch.Tensor | None = None
) -> torch.Tensor:
    """``affine_grid`` matrices (B, 2, 3) mapping output to input in normalised coordinates.

    ``angles_deg`` (B,) as torchvision's ``affine(angle=...)``; ``shifts_px`` (B, 2) as its
    ``translate=[tx, ty]`` (pixels, x to the right, y down); ``flips`` (B, 2) of +-1 mirror
    x and / or y about the centre first.
    """
    a = torch.deg2rad(angles_deg.double())
    cos, sin = torch.cos(a), torch.sin(a)
    # inverse of "rotate by angle then translate", in centred pixel coordinates (y down)
    inv = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (B, 2, 2)
    if flips is not None:
        inv = flips.double().unsqueeze(-1) * inv
    half = torch.tensor([width / 2.0, height / 2.0], dtype=torch.float64, device=angles_deg.device)
    linear = inv * half[None, None, :] / half[None, :, None]  # diag(1/half) @ inv @ diag(half)
    offset = -(inv @ shifts_px.double().unsqueeze(-1)).squeeze(-1) / half
    return torch.cat([linear, offset.unsqueeze(-1)], dim=-1)


def random_affine(
    images: torch.Tensor, rotation: float, shift: float, generator: torch.Generator, flip: bool = False
) -> torch.Tensor:
    """Rotate each sample of (B, S, C, H, W) by U(-rotation, rotation) degrees and shift it by U(-shift, shift) px.

    With ``flip`` each sample is also mirrored horizontally and / or vertically with probability 1/2 each.
    """
    if rotation <= 0 and shift <= 0 and not flip:
        return images
    b, s, c, h, w = images.shape
    angles = (torch.rand(b, generator=generator, dtype=torch.float64) * 2 - 1) * rotation
    shifts = (torch.rand(b, 2, generator=generator, dtype=torch.float64) * 2 - 1) * shift
    flips = torch.randint(0, 2, (b, 2), generator=generator) * 2 - 1 if flip else None
    theta = affine_matrices(angles, shifts, h, w, flips).to(device=images.device, dtype=images.dtype)
    flat = images.reshape(b, s * c, h, w)
    grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(b, s, c, h, w)

