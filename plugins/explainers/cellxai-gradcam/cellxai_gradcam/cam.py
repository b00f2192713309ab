"""Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ and HiResCAM for any torch model and conv layer, all in torch.

The three differ only in the weighting hook (``WEIGHTINGS``, as pytorch-grad-cam's
``BaseCAM.get_cam_weights`` / HiResCAM's element-wise ``get_cam_image``).

Numerically it follows the ``grad-cam`` package (pytorch-grad-cam 1.5): channel
weights are the spatial mean of the gradients, the map is ``ReLU(sum_k w_k A_k)``,
min-max normalised per image (``x - min``, then ``/ (1e-7 + max)``), resized to the
input size with bilinear interpolation on half-pixel centres (what its
``cv2.resize(..., INTER_LINEAR)`` does), and min-max normalised once more.

Unlike that package it works with frozen backbones (no parameter needs
``requires_grad``), gives every image of a grouped input (B, S, C, H, W) its own map,
accumulates a layer that fires several times per forward instead of overwriting it,
refuses a target count that does not match the batch, never leaves a hook behind,
never touches ``param.grad`` and never copies to the host.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-7  # the denominator guard of pytorch-grad-cam's scale_cam_image
PLUSPLUS_EPS = 1e-6  # the denominator guard of its GradCAMPlusPlus.get_cam_weights


class _ActivationCapture:
    """Forward hooks that keep every activation of the hooked layers, in call order.

    The hooked output is replaced by a clone of a tensor that requires grad: with a
    frozen backbone the activation would otherwise have no graph, and an in-place op
    after the layer (``ReLU(inplace=True)``) would otherwise overwrite what we read.
    """

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        self.activations: list[torch.Tensor] = []
        self.handles = [layer.register_forward_hook(self._hook) for layer in layers]

    def _hook(self, module: nn.Module, args: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"grad_cam: layer {type(module).__name__} returned {type(output).__name__}; "
                "hook a module that returns one tensor"
            )
        activation = output if output.requires_grad else output.detach().requires_grad_(True)
        self.activations.append(activation)
        return activation.clone()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.activations = []


def _as_layers(layer: nn.Module | Sequence[nn.Module]) -> list[nn.Module]:
    layers = [layer] if isinstance(layer, nn.Module) else list(layer)
    if not layers or not all(isinstance(m, nn.Module) for m in layers):
        raise ValueError("grad_cam: layer must be an nn.Module or a non-empty sequence of them")
    return layers


def _target_tensor(targets: Any, logits: torch.Tensor) -> torch.Tensor:
    """One class index per input, checked against the batch and the number of outputs."""
    batch, n_out = logits.shape
    if targets is None:
        return logits.detach().argmax(dim=1)
    if isinstance(targets, int):
        raise ValueError(f"grad_cam: targets must be one int per input ({batch}), got a single int")
    t = torch.as_tensor(targets if isinstance(targets, torch.Tensor) else list(targets))
    t = t.to(device=logits.device, dtype=torch.long).reshape(-1)
    if t.numel() != batch:
        raise ValueError(f"grad_cam: got {t.numel()} targets for a batch of {batch} inputs; give one per input")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_out):
        raise ValueError(f"grad_cam: target out of range for {n_out} model outputs: {t.tolist()}")
    return t


def gradcam_weights(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Grad-CAM: alpha_k = mean_ij dY/dA^k_ij (Selvaraju et al. 2017)."""
    return g.mean(dim=(2, 3), keepdim=True)


def gradcam_plusplus_weights(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhay et al. 2018, eq. 19 with the exponential's derivatives dropped), as pytorch-grad-cam."""
    g2 = g * g
    aij = g2 / (2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g + PLUSPLUS_EPS)
    aij = torch.where(g != 0, aij, torch.zeros_like(aij))
    return (g.clamp_min(0) * aij).sum(dim=(2, 3), keepdim=True)


def hirescam_weights(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """HiResCAM (Draelos & Carin 2020): the gradient itself, element-wise, so the map is sum_k g^k * A^k."""
    return g


# The one weighting hook (pytorch-grad-cam's BaseCAM.get_cam_weights): (activations, gradients) ->
# weights broadcastable to the activations; the map is ReLU(sum_k w_k * A_k) for every method.
WEIGHTINGS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": gradcam_weights,
    "gradcam++": gradcam_plusplus_weights,
    "hirescam": hirescam_weights,
}


def _raw_cams(activations: list[torch.Tensor], grads: Sequence[torch.Tensor | None], method: str = "gradcam") -> list[torch.Tensor]:
    """sum_k w_k A^k for each captured call, before the ReLU; ``w`` from the method's weighting."""
    weighting = WEIGHTINGS[method]
    cams = []
    for a, g in zip(activations, grads):
        if a.ndim != 4:
            raise ValueError(f"grad_cam: the layer's output must be (N, K, h, w), got shape {tuple(a.shape)}")
        a = a.detach()
        g = torch.zeros_like(a) if g is None else g
        cams.append((weighting(a, g) * a).sum(dim=1))
    return cams


def _combine_calls(cams: list[torch.Tensor], batch: int, set_size: int) -> torch.Tensor:
    """Per-call maps -> one map per image, (batch * set_size, h, w) in (b, s) order.

    One call with B*S rows: the flattened batch. S calls of B rows: one call per set
    position (an encoder looping over time points). k calls of B*S rows each: the layer
    is re-used k times on every image; the contributions add up.
    """
    n_images = batch * set_size
    sizes = {tuple(c.shape[1:]) for c in cams}
    rows = [c.shape[0] for c in cams]
    if len(cams) == 1 and rows[0] == n_images:
        return cams[0]
    if len(sizes) != 1:
        raise ValueError(f"grad_cam: the layer fired {len(cams)} times with different map sizes {sorted(sizes)}")
    if len(cams) == set_size and all(r == batch for r in rows):
        return torch.stack(cams, dim=1).reshape(n_images, *cams[0].shape[1:])
    if all(r == n_images for r in rows):
        return torch.stack(cams).sum(dim=0)
    if sum(rows) == n_images:
        return torch.cat(cams)
    raise ValueError(
        f"grad_cam: the layer fired {len(cams)} times with {rows} rows, which cannot be matched to "
        f"{batch} inputs x {set_size} images each"
    )


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-image ``(x - min) / (1e-7 + max(x - min))`` over the last two axes."""
    x = x - x.amin(dim=(-2, -1), keepdim=True)
    return x / (EPS + x.amax(dim=(-2, -1), keepdim=True))


def grad_cam(
    model: nn.Module,
    layer: nn.Module | Sequence[nn.Module],
    inputs: torch.Tensor,
    targets: Sequence[int] | torch.Tensor | None,
    *,
    normalize: bool = True,
    forward_kwargs: Mapping[str, Any] | None = None,
    return_logits: bool = False,
    method: str = "gradcam",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of ``targets`` at ``layer`` for every image of ``inputs``.

    :param model: any module; called as ``model(inputs, **forward_kwargs)`` and returning
        scores (B, n_outputs). It runs in eval mode; its previous mode is restored.
    :param layer: the module whose output (N, K, h, w) is explained (or a sequence of
        modules whose calls together cover the images, in call order).
    :param inputs: (B, C, H, W), or grouped (B, S, C, H, W) for a model whose per-image
        encoder runs on the flattened batch: every image then gets its own map.
    :param targets: one class index per input (B,), or None for each input's top score.
    :param normalize: min-max normalise each map to [0, 1] as pytorch-grad-cam does;
        if False, the ReLU'd maps are only resized.
    :param forward_kwargs: extra keyword arguments of the forward (e.g. ``side=`` features).
    :param return_logits: also return the model's scores (B, n_outputs), detached.
    :param method: ``gradcam``, ``gradcam++`` or ``hirescam``: the channel weighting (``WEIGHTINGS``).
    :returns: maps (B, H, W) or (B, S, H, W), float32 on the device of ``inputs``.
    """
    if inputs.ndim not in (4, 5):
        raise ValueError(f"grad_cam: inputs must be (B, C, H, W) or (B, S, C, H, W), got shape {tuple(inputs.shape)}")
    batch = inputs.shape[0]
    set_size = inputs.shape[1] if inputs.ndim == 5 else 1
    height, width = inputs.shape[-2:]
    if method not in WEIGHTINGS:
        raise ValueError(f"grad_cam: method must be one of {sorted(WEIGHTINGS)}, got {method!r}")
    modes = {m: m.training for m in model.modules()}
    capture = _ActivationCapture(_as_layers(layer))
    try:
        model.eval()
        with torch.enable_grad():
            logits = model(inputs, **(forward_kwargs or {}))
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != batch:
                shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise ValueError(f"grad_cam: the model must return scores (B={batch}, n_outputs), got {shape}")
            target = _target_tensor(targets, logits)
            activations = list(capture.activations)
            if not activations:
                raise ValueError("grad_cam: the layer was not called during the forward pass")
            score = logits.gather(1, target[:, None]).sum()
            grads = torch.autograd.grad(score, activations, allow_unused=True)
        if all(g is None for g in grads):
            raise ValueError("grad_cam: the model's output does not depend on the layer's output")
        cams = _combine_calls(_raw_cams(activations, grads, method), batch, set_size).clamp_min(0)
        del activations, grads, score
        if normalize:
            cams = _minmax(cams)
        maps = F.interpolate(cams[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]
        if normalize:
            maps = _minmax(maps)
        maps = maps.reshape(batch, set_size, height, width) if inputs.ndim == 5 else maps
        return (maps, logits.detach()) if return_logits else maps
    finally:
        capture.remove()
        for module, training in modes.items():
            module.training = training


def hooked_modules(model: nn.Module) -> Iterable[nn.Module]:
    """Modules of ``model`` that carry forward or backward hooks (for leak checks)."""
    for module in model.modules():
        if module._forward_hooks or module._forward_pre_hooks or module._backward_hooks:
            yield module
