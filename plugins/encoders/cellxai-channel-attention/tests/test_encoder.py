import subprocess
import sys

import pytest
import torch
from pydantic import ValidationError

import cellxai_channel_attention.plugin as plugin
from cellxai_channel_attention.encoder import BackboneEncoder
from cellxai_channel_attention.params import BackboneParams
from cellxai_core.errors import ConfigError
from cellxai_core.model import encode_grouped
from cellxai_core.testing import use_plugins


def test_registration_is_cheap_and_complete():
    code = "import sys, cellxai_channel_attention.plugin; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    with use_plugins(plugin) as reg:
        assert reg.names("encoder") == ["backbone"]
        assert reg.names("fusion") == ["channel-attention", "mean-pool", "self-attention"]
        assert reg.get("encoder", "backbone").target == "cellxai_channel_attention.encoder:BackboneEncoder"


def test_params_reject_unknown_keys_and_bad_names():
    with pytest.raises(ValidationError):
        BackboneParams(arch="ResNet-50")
    with pytest.raises(ValidationError):
        BackboneParams(depth=3)


def test_cnn3_pooled_and_spatial_tokens():
    x = torch.rand(5, 3, 64, 64)
    pooled = BackboneEncoder(in_channels=3, width=8)
    assert pooled.out_dim == 32 and pooled(x).shape == (5, 32)
    spatial = BackboneEncoder(in_channels=3, width=8, tokens="spatial", grid=4, embed_dim=12)
    assert spatial.out_dim == 12 and spatial(x).shape == (5, 16, 12)
    native = BackboneEncoder(in_channels=3, width=8, tokens="spatial", grid=None)
    assert native(x).shape == (5, 64, 32)  # 64 px / 8 = 8 x 8 positions


@pytest.mark.parametrize("arch,dim", [("resnet18", 512), ("mobilenet_v3_small", 576)])
def test_torchvision_backbone_on_one_channel(arch, dim):
    enc = BackboneEncoder(in_channels=1, arch=arch, tokens="spatial", grid=2)
    assert enc.out_dim == dim
    assert enc(torch.rand(2, 1, 64, 64)).shape == (2, 4, dim)
    first = next(m for m in enc.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 1


def test_vit_backbone_resizes_to_its_input_size():
    enc = BackboneEncoder(in_channels=3, arch="vit_b_16", image_size=32)
    assert enc.out_dim == 768 and enc(torch.rand(2, 3, 48, 48)).shape == (2, 768)


def test_unknown_arch_suggests_names():
    with pytest.raises(ConfigError, match="did you mean resnet50"):
        BackboneEncoder(in_channels=3, arch="resnet5")


def test_separate_branches_encode_each_set_position_with_its_own_weights():
    torch.manual_seed(0)
    enc = BackboneEncoder(in_channels=1, width=4, branches=3).eval()
    assert enc.uses_set_index
    for b in enc.branches[1:]:  # copies start equal; make them differ as training would
        for p in b.parameters():
            p.data.add_(torch.randn_like(p) * 0.5)
    images = torch.rand(2, 3, 1, 32, 32)  # (B, S, C, H, W): two cells, three isolated channels
    tokens = encode_grouped(enc, images)
    assert tokens.shape == (2, 3, 16)
    for s in range(3):
        direct = enc.branches[s](images[:, s]).mean(dim=(2, 3))
        assert torch.allclose(tokens[:, s], direct, atol=1e-6)
    same = images[:, :1].expand(2, 3, 1, 32, 32)
    t = encode_grouped(enc, same)
    assert not torch.allclose(t[:, 0], t[:, 1])  # same image, different branch, different token
    with pytest.raises(ConfigError, match="branches is 3"):
        encode_grouped(enc, torch.rand(1, 4, 1, 32, 32))


def test_cam_layer_sees_every_image_of_every_branch():
    enc = BackboneEncoder(in_channels=1, width=4, branches=3, tokens="spatial")
    seen = []
    handle = enc.cam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    encode_grouped(enc, torch.rand(2, 3, 1, 32, 32))
    handle.remove()
    assert seen == [torch.Size([6, 16, 4, 4])]
