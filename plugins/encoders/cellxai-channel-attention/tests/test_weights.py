import pytest
import torch
from safetensors.torch import save_file

from cellxai_channel_attention.encoder import BackboneEncoder
from cellxai_core.errors import ConfigError, DataError
from cellxai_core.model import state_dict_for_save


def test_encoder_weights_round_trip_through_a_run_style_safetensors(tmp_path):
    torch.manual_seed(1)
    trained = BackboneEncoder(in_channels=1, width=4, branches=3).eval()
    path = tmp_path / "model.safetensors"
    save_file(state_dict_for_save({"encoder": trained, "head": torch.nn.Linear(2, 2)}), str(path))
    torch.manual_seed(2)
    loaded = BackboneEncoder(in_channels=1, width=4, branches=3, weights=path).eval()
    x, idx = torch.rand(3, 1, 32, 32), torch.tensor([0, 1, 2])
    assert torch.equal(loaded(x, idx), trained(x, idx))


def test_torchvision_state_dict_loads_into_every_branch_with_summed_first_conv(tmp_path):
    import torchvision

    torch.manual_seed(0)
    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    enc = BackboneEncoder(in_channels=1, arch="resnet18", branches=2, weights=path)
    for branch in enc.branches:
        assert torch.allclose(branch.conv1.weight, source.conv1.weight.sum(dim=1, keepdim=True))
        assert torch.equal(branch.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_bad_weights_are_user_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        BackboneEncoder(in_channels=3, weights=tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    save_file({"blocks.block1.0.weight": torch.zeros(9, 3, 3, 3)}, str(other))
    with pytest.raises(ConfigError, match="shape"):
        BackboneEncoder(in_channels=3, width=4, weights=other)
    partial = tmp_path / "partial.safetensors"
    save_file({"blocks.block1.0.weight": torch.zeros(4, 3, 3, 3)}, str(partial))
    with pytest.raises(ConfigError, match="missing"):
        BackboneEncoder(in_channels=3, width=4, weights=partial)
