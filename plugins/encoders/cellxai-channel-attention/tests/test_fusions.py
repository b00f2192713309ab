import pytest
import torch

from cellxai_channel_attention.attention import ChannelAttentionFusion, MeanPoolFusion, SelfAttentionFusion
from cellxai_channel_attention.encoder import BackboneEncoder
from cellxai_core.errors import ConfigError
from cellxai_core.model import SampleModel


def test_channel_attention_has_the_six_paper_pairs_and_attends_across_channels():
    torch.manual_seed(0)
    fusion = ChannelAttentionFusion(token_dim=8, set_size=3).eval()
    assert fusion.pair_names == ["0/0", "1/1", "2/2", "0/1", "0/2", "1/2"]
    assert len(fusion.layers) == 6 and fusion.out_dim == 512
    tokens = torch.rand(2, 3 * 5, 8)  # 3 channels x 5 positions
    out = fusion(tokens)
    assert out.shape == (2, 512)
    assert fusion.attention.shape == (2, 6, 5, 5)
    assert torch.allclose(fusion.attention.sum(dim=-1), torch.ones(2, 6, 5), atol=1e-5)
    before = fusion.attention.clone()
    changed = tokens.clone()
    changed[:, 10:] = torch.rand(2, 5, 8) * 3  # only channel 2 (B) changes
    fusion(changed)
    # the pairs that read channel 2 (B/B, R/B, G/B) attend differently; R/R, G/G and R/G do not
    diff = (fusion.attention - before).abs().amax(dim=(0, 2, 3))
    assert diff[[0, 1, 3]].max() < 1e-6 and diff[[2, 4, 5]].min() > 1e-4
    assert len(ChannelAttentionFusion(token_dim=8, set_size=3, pairs="all").layers) == 9


def test_self_attention_and_mean_pool():
    fusion = SelfAttentionFusion(token_dim=16, set_size=1, mlp=[32, 8])
    assert fusion(torch.rand(4, 9, 16)).shape == (4, 8) and fusion.attention.shape == (4, 9, 9)
    pool = MeanPoolFusion(token_dim=16)
    x = torch.rand(4, 9, 16)
    assert torch.allclose(pool(x), x.mean(dim=1)) and pool.out_dim == 16
    with_side = SelfAttentionFusion(token_dim=16, side_dim=3, mlp=[8])
    assert with_side(torch.rand(2, 4, 16), torch.rand(2, 4, 3)).shape == (2, 8)


def test_heads_must_divide_the_token_size():
    with pytest.raises(ConfigError, match="heads"):
        SelfAttentionFusion(token_dim=10, heads=3)


@pytest.mark.parametrize("family", ["rgb", "mhl"])
def test_families_train_end_to_end(family):
    torch.manual_seed(0)
    if family == "rgb":  # isolated channels, one backbone per channel, channel attention
        enc = BackboneEncoder(in_channels=1, width=4, tokens="spatial", grid=2, branches=3)
        fusion = ChannelAttentionFusion(token_dim=enc.out_dim, set_size=3, mlp=[32, 16])
        images = torch.rand(4, 3, 1, 32, 32)
    else:  # all channels in one backbone, self-attention over its spatial tokens
        enc = BackboneEncoder(in_channels=3, width=4, tokens="spatial", grid=2)
        fusion = SelfAttentionFusion(token_dim=enc.out_dim, set_size=1, mlp=[32, 16])
        images = torch.rand(4, 1, 3, 32, 32)
    model = SampleModel(enc, fusion, torch.nn.Linear(16, 2))
    loss = torch.nn.functional.cross_entropy(model(images), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    for branch in enc.branches:
        assert branch.blocks.block1[0].weight.grad.abs().sum() > 0
    assert model.cam_layer is enc.cam_tap
