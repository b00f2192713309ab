"""grad_cam: reference match with pytorch-grad-cam, and what that package gets wrong."""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from cellxai_core.model import SampleModel
from cellxai_gradcam import grad_cam
from cellxai_gradcam import cam as cam_module
from cellxai_gradcam.cam import hooked_modules

pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

METHODS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM}


def reference(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: list[int], method: str = "gradcam") -> np.ndarray:
    with METHODS[method](model, [layer]) as cam:
        return cam(x, [ClassifierOutputTarget(t) for t in targets])


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("size", [(32, 32), (29, 41)])
def test_matches_pytorch_grad_cam_small_cnn(small_cnn, size, method):
    torch.manual_seed(2)
    x = torch.rand(5, 3, *size)
    targets = [0, 1, 2, 3, 1]
    ours = grad_cam(small_cnn, small_cnn.features[3], x, targets, method=method)
    ref = reference(small_cnn, small_cnn.features[3], x, targets, method)
    assert ours.shape == (5, *size) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-5, rtol=0)
    assert float(ours.amax(dim=(1, 2)).min()) > 0.99  # normalised per image, not all zero


@pytest.mark.parametrize("method", sorted(METHODS))
def test_matches_pytorch_grad_cam_resnet18(method):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=6).eval()
    x = torch.rand(3, 3, 64, 64)
    targets = [5, 0, 2]
    for layer in (model.layer4, model.layer3[1].conv2):
        ours = grad_cam(model, layer, x, targets, method=method)
        np.testing.assert_allclose(ours.numpy(), reference(model, layer, x, targets, method), atol=1e-5, rtol=0)


def test_methods_differ_and_unknown_method_is_refused(small_cnn):
    """The weighting hook is used: the three methods give different maps on the same layer."""
    x = torch.rand(3, 3, 24, 24)
    maps = {m: grad_cam(small_cnn, small_cnn.features[3], x, [0, 1, 2], method=m) for m in METHODS}
    assert not torch.allclose(maps["gradcam"], maps["hirescam"], atol=1e-3)
    assert not torch.allclose(maps["gradcam"], maps["gradcam++"], atol=1e-3)
    with pytest.raises(ValueError, match="method must be one of"):
        grad_cam(small_cnn, small_cnn.features[3], x, [0, 1, 2], method="scorecam")


def test_unnormalised_maps_are_resized_relu_cams(small_cnn):
    x = torch.rand(2, 3, 16, 16)
    raw = grad_cam(small_cnn, small_cnn.features[3], x, [0, 1], normalize=False)
    norm = grad_cam(small_cnn, small_cnn.features[3], x, [0, 1])
    assert float(raw.min()) >= 0
    rescaled = (raw - raw.amin(dim=(1, 2), keepdim=True)) / raw.amax(dim=(1, 2), keepdim=True)
    np.testing.assert_allclose(rescaled.numpy(), norm.numpy(), atol=1e-4)


def test_targets_none_uses_top_score(small_cnn):
    x = torch.rand(3, 3, 16, 16)
    top = small_cnn(x).argmax(dim=1).tolist()
    maps, logits = grad_cam(small_cnn, small_cnn.features[3], x, None, return_logits=True)
    assert logits.argmax(dim=1).tolist() == top
    torch.testing.assert_close(maps, grad_cam(small_cnn, small_cnn.features[3], x, top))


def test_frozen_backbone_gives_the_same_maps(small_cnn):
    x = torch.rand(4, 3, 20, 20)
    expected = grad_cam(small_cnn, small_cnn.features[3], x, [0, 1, 2, 3])
    for p in small_cnn.parameters():
        p.requires_grad_(False)
    frozen = grad_cam(small_cnn, small_cnn.features[3], x, [0, 1, 2, 3])
    torch.testing.assert_close(frozen, expected)
    assert float(frozen.amax()) > 0.99


def test_grouped_inputs_give_one_map_per_image(grouped_parts, models):
    encoder, fusion, head = grouped_parts
    model = SampleModel(encoder, fusion, head).eval()
    torch.manual_seed(3)
    x = torch.rand(3, 4, 2, 16, 16)  # B=3 samples of S=4 images
    targets = [2, 0, 1]
    maps = grad_cam(model, model.cam_layer, x, targets)
    assert maps.shape == (3, 4, 16, 16)
    # mean fusion + linear head: each image's map is that of encoder+head on the image alone
    single = models.EncoderHead(encoder, head).eval()
    flat_targets = [t for t in targets for _ in range(4)]
    ref = reference(single, encoder.cam_layer, x.reshape(12, 2, 16, 16), flat_targets)
    np.testing.assert_allclose(maps.reshape(12, 16, 16).numpy(), ref, atol=1e-5)
    assert not torch.allclose(maps[0, 0], maps[0, 1])  # distinct images, distinct maps


def test_layer_firing_once_per_set_position_is_accumulated(grouped_parts, models):
    encoder, fusion, head = grouped_parts
    x = torch.rand(2, 3, 2, 12, 12)
    looped = grad_cam(models.LoopModel(encoder, head), encoder.cam_layer, x, [1, 2])
    flat = grad_cam(SampleModel(encoder, fusion, head), encoder.cam_layer, x, [1, 2])
    assert looped.shape == (2, 3, 12, 12)
    torch.testing.assert_close(looped, flat)


def test_side_features_go_through_forward_kwargs(grouped_parts):
    encoder, fusion, _ = grouped_parts
    model = SampleModel(encoder, fusion, nn.Linear(8 + 2, 3))
    x, side = torch.rand(2, 3, 2, 12, 12), torch.rand(2, 3, 2)
    maps = grad_cam(model, model.cam_layer, x, [0, 1], forward_kwargs={"side": side})
    assert maps.shape == (2, 3, 12, 12)


@pytest.mark.parametrize("targets", [[0, 1], [0, 1, 2, 3], [0, 1, 9], 1])
def test_bad_targets_raise_instead_of_zero_maps(small_cnn, targets):
    with pytest.raises(ValueError, match="target"):
        grad_cam(small_cnn, small_cnn.features[3], torch.rand(3, 3, 16, 16), targets)
    assert not list(hooked_modules(small_cnn))


def test_unused_layer_raises(small_cnn):
    unused = nn.Conv2d(3, 3, 1)
    small_cnn.unused = unused
    with pytest.raises(ValueError, match="not called"):
        grad_cam(small_cnn, unused, torch.rand(1, 3, 8, 8), [0])
    assert not list(hooked_modules(small_cnn))


def test_side_effects_restored(small_cnn):
    small_cnn.train()
    with torch.no_grad():  # grad_cam enables grad itself
        maps = grad_cam(small_cnn, small_cnn.features[3], torch.rand(2, 3, 16, 16), [0, 1])
    assert float(maps.amax()) > 0.99
    assert all(m.training for m in small_cnn.modules())
    assert all(p.grad is None for p in small_cnn.parameters())


def test_inplace_relu_after_layer_reads_the_layer_output(models):
    torch.manual_seed(4)
    plain = models.SmallCNN().eval()
    inplace = models.SmallCNN().eval()
    inplace.load_state_dict(plain.state_dict())
    inplace.features[4] = nn.ReLU(inplace=True)
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(
        grad_cam(inplace, inplace.features[3], x, [0, 1]), grad_cam(plain, plain.features[3], x, [0, 1])
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_hooks_left_and_memory_flat_over_100_calls(small_cnn, monkeypatch):
    captured: list[weakref.ref] = []
    original = cam_module._ActivationCapture._hook

    def spy(self, module, args, output):
        result = original(self, module, args, output)
        captured.append(weakref.ref(self.activations[-1]))
        return result

    monkeypatch.setattr(cam_module._ActivationCapture, "_hook", spy)
    x = torch.rand(2, 3, 16, 16)
    layer = small_cnn.features[3]
    for _ in range(5):
        grad_cam(small_cnn, layer, x, [0, 1])
    rss = _rss_bytes()
    for i in range(100):
        maps = grad_cam(small_cnn, layer, x, [0, 1])
        if i % 10 == 0:
            with pytest.raises(ValueError):
                grad_cam(small_cnn, layer, x, [0])
    assert maps.shape == (2, 16, 16)
    assert not list(hooked_modules(small_cnn))
    gc.collect()
    assert len(captured) == 115
    assert all(ref() is None for ref in captured)  # no activation (or its graph) outlives its call
    assert _rss_bytes() - rss < 20 * 2**20
