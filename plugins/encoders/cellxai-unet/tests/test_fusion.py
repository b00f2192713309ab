import numpy as np
import pytest
import torch

from cellxai_core.errors import UserError
from cellxai_unet.fusion import TemporalAttentionFusion
from cellxai_unet.handcrafted import feature_names, temporal_features

OBJECTS = ["tumour", "killer", "debris"]  # any names: the fusion takes them from the feature columns
NAMES = feature_names(OBJECTS)
S, D, F = 5, 6, len(NAMES)


def toy_wells(n: int = 96, seed: int = 0, proportional: bool = False):
    """Tokens and human-designed features of wells whose cancer density rises or falls.

    Changes of a fixed size over levels 0.05-0.15, or (``proportional``) changes proportional to
    levels 0.01-0.2, as growth and killing of the cells present would be, with a third program
    whose cancer and T-cell densities stay level.
    """
    rng = np.random.default_rng(seed)
    program = np.arange(n) % (3 if proportional else 2)
    direction = np.array([1.0, -1.0, 0.0])[program]
    level = rng.uniform(0.01, 0.2, size=(n, 1, 3)) if proportional else rng.uniform(0.05, 0.15, size=(n, 1, 3))
    days = np.linspace(-0.5, 0.5, S)[None, :, None]
    change = np.stack([direction * 0.06, -direction * 0.03, np.full(n, 0.02)], 1)[:, None, :]
    area = level + days * (change * level / 0.1 if proportional else change)
    area += rng.normal(0, 0.002, area.shape)
    counts = area * 300 + rng.normal(0, 0.5, area.shape)
    brightness = rng.uniform(0.5, 0.9, area.shape)
    side = temporal_features(torch.from_numpy(np.concatenate([area, counts, brightness], 2)).float()).numpy()
    tokens = np.concatenate([area @ rng.normal(size=(3, D)), rng.normal(size=(n, S, D)) * 0.1], 2)[..., :D]
    return tokens.astype(np.float32), side.astype(np.float32), program


def build(**params):
    params.setdefault("epochs", 60)
    return TemporalAttentionFusion(token_dim=D, side_dim=F, set_size=S, side_names=NAMES, **params)


def test_shapes_and_attention_weights():
    fusion = build(heads=4, dim=16, latent_dim=8)
    out = fusion(torch.rand(3, S, D), torch.rand(3, S, F))
    assert out.shape == (3, 3 + 3 * S) and fusion.out_dim == 3 + 3 * S  # trend states, then the shape
    assert build(vector="states", shape_weight=0).out_dim == 3 and build(use_trend=False).out_dim == 3 * S
    assert build(shape_weight=0).out_dim == 3 + 3 * S  # noise_units: the shape is always in, at weight 1
    assert fusion.attention.shape == (3, 4, S, S)
    assert torch.allclose(fusion.attention.sum(-1), torch.ones(3, 4, S))
    flat = build(temporal=False)
    flat(torch.rand(3, S, D), torch.rand(3, S, F))
    assert flat.attention is None


def test_temporal_switch_makes_order_matter():
    tokens, side = torch.rand(4, S, D), torch.rand(4, S, F)
    reversed_days = torch.arange(S - 1, -1, -1)
    ordered = build()
    assert not torch.allclose(ordered(tokens, side), ordered(tokens[:, reversed_days], side[:, reversed_days]), atol=1e-5)
    mean = build(temporal=False)
    assert torch.allclose(mean(tokens, side), mean(tokens[:, reversed_days], side[:, reversed_days]), atol=1e-5)


def test_ablation_switches_change_the_inputs():
    tokens, side = torch.rand(4, S, D), torch.rand(4, S, F)
    other_trend = side.clone()
    other_trend[..., 9:] += 1.0  # only the change / slope columns
    other_days = side.clone()
    other_days[..., :9] += 1.0  # only the per-day area / count / intensity columns
    train = toy_wells(16)[:2]
    no_hand = build(use_handcrafted=False)
    no_hand.fit(*train)
    assert no_hand.side_proj is None
    assert torch.equal(no_hand(tokens, side), no_hand(tokens, torch.rand(4, S, F)))
    for switch in ({"use_trend": False}, {"temporal": False}):  # change / slope columns are not inputs
        fusion = build(**switch)
        fusion.fit(*train)
        assert torch.equal(fusion(tokens, side), fusion(tokens, other_trend))
        assert not torch.equal(fusion(tokens, side), fusion(tokens, other_days))
    full = build()
    full.fit(*train)
    assert not torch.equal(full(tokens, side), full(tokens, other_trend))


def test_trend_states_saturate_speed_but_not_direction():
    from cellxai_unet.fusion import trend_states

    unit = torch.ones(3)
    states = trend_states(torch.tensor([[0.5, -8.0, 12.0], [-0.5, -16.0, 6.0]]), unit, threshold=4.0)
    assert states[:, 0].abs().max() < 0.01  # well below the threshold: stable
    assert torch.all(states[:, 1] < -0.99) and torch.all(states[:, 2] > 0.99)  # 2x / 4x: saturated


def test_fit_learns_densities_and_trends_and_auxiliary_is_in_density_units():
    tokens, side, program = toy_wells()
    fusion = build()
    metrics = fusion.fit(tokens, side)
    assert metrics["fusion_loss_last"] < 0.2 * metrics["fusion_loss_first"]
    assert metrics["fusion_r2_density"] > 0.9 and metrics["fusion_r2_trend"] > 0.9
    aux = fusion.auxiliary(torch.from_numpy(tokens), torch.from_numpy(side))
    assert aux["density"].shape == (len(tokens), S, 3) and aux["trend"].shape == (len(tokens), 3)
    assert np.abs(aux["density"].detach().numpy() - side[..., :3]).mean() < 0.01
    assert np.corrcoef(aux["trend"][:, 0].detach().numpy(), side[:, 0, NAMES.index("tumour_area_slope")])[0, 1] > 0.95
    assert fusion.auxiliary_names == {"density": OBJECTS, "trend": OBJECTS}


def test_noise_unit_vector_is_trend_in_standard_errors_then_shape():
    tokens, side, _ = toy_wells()
    fusion = build(changes="absolute")
    fusion.fit(tokens, side)
    t, s = torch.from_numpy(tokens), torch.from_numpy(side)
    aux = fusion.auxiliary(t, s)
    fused = fusion(t, s).detach()
    assert torch.allclose(fused[:, :3], aux["trend"] / fusion.trend_unit, atol=1e-5)
    shape = (aux["density"] - aux["density"].mean(dim=1, keepdim=True)) / fusion.shape_unit
    assert torch.allclose(fused[:, 3:], shape.flatten(1), atol=1e-5)
    z = fused[:, 0].numpy()
    assert np.abs(z).max() > 4  # a linear measure in noise units, not a state saturated at 1


def test_noise_unit_vector_groups_rising_and_falling_wells_with_the_silhouette_sweep():
    from sklearn.metrics import adjusted_rand_score

    from cellxai_core.build import load_component

    tokens, side, program = toy_wells()
    fusion = build()
    fusion.fit(tokens, side)
    fused = fusion(torch.from_numpy(tokens), torch.from_numpy(side)).detach().numpy()
    labels = load_component("clusterer", "affinity-propagation", device="cpu").fit_predict(fused)
    assert adjusted_rand_score(program, labels) > 0.9


def test_relative_changes_divide_by_the_wells_level():
    tokens, side, _ = toy_wells(proportional=True)
    fusion = build(changes="relative")
    fusion.fit(tokens, side)
    t, s = torch.from_numpy(tokens), torch.from_numpy(side)
    aux = fusion.auxiliary(t, s)
    level = aux["density"].mean(dim=1) + fusion.level_floor
    fused = fusion(t, s).detach()
    assert torch.allclose(fused[:, :3], aux["trend"] / level / fusion.trend_unit, atol=1e-4)
    assert float(fusion.relative_on) == 1.0 and torch.all(fusion.level_floor > 0)


@pytest.mark.parametrize("proportional", [False, True])
def test_auto_changes_pick_what_groups_and_the_other_choice_groups_worse(proportional):
    from sklearn.metrics import adjusted_rand_score

    from cellxai_core.build import load_component

    tokens, side, program = toy_wells(proportional=proportional)
    t, s = torch.from_numpy(tokens), torch.from_numpy(side)
    ari = {}
    for changes in ("auto", "absolute", "relative"):
        fusion = build(changes=changes)
        metrics = fusion.fit(tokens, side)
        labels = load_component("clusterer", "affinity-propagation", device="cpu").fit_predict(fusion(t, s).detach().numpy())
        ari[changes] = adjusted_rand_score(program, labels)
        if changes == "auto":
            assert metrics["fusion_changes_relative"] == float(proportional)
    assert ari["auto"] > 0.9
    if proportional:  # absolute changes spread one program over the levels 0.01-0.2: the choice matters
        assert ari["absolute"] < ari["auto"]


def test_fused_vector_separates_rising_from_falling_wells():
    from sklearn.cluster import AffinityPropagation
    from sklearn.metrics import adjusted_rand_score

    tokens, side, program = toy_wells()
    fusion = build(vector="states")
    fusion.fit(tokens, side)
    fused = fusion(torch.from_numpy(tokens), torch.from_numpy(side)).detach().numpy()
    labels = AffinityPropagation(damping=0.9, random_state=0).fit_predict(fused)
    assert adjusted_rand_score(program, labels) > 0.9


def test_fit_is_deterministic_and_state_dict_rebuilds_it():
    tokens, side, _ = toy_wells(32)
    a, b = build(seed=1), build(seed=1)
    a.fit(tokens, side)
    b.fit(tokens, side)
    x, s = torch.from_numpy(tokens), torch.from_numpy(side)
    assert torch.equal(a(x, s), b(x, s))
    rebuilt = build(seed=7)
    rebuilt.load_state_dict(a.state_dict())
    rebuilt.eval()
    assert torch.equal(a(x, s), rebuilt(x, s))
    assert torch.equal(a.auxiliary(x, s)["trend"], rebuilt.auxiliary(x, s)["trend"])


def test_object_classes_come_from_the_side_names():
    one = feature_names(["nucleus"])
    fusion = TemporalAttentionFusion(token_dim=D, side_dim=len(one), set_size=S, side_names=one, epochs=5)
    assert fusion.auxiliary_names["density"] == ["nucleus"] and fusion.out_dim == 1 + S
    tokens, side, _ = toy_wells(16)
    fusion.fit(tokens, side[..., [NAMES.index(n.replace("nucleus", "tumour")) for n in one]])
    assert fusion.auxiliary(torch.from_numpy(tokens), torch.from_numpy(side[..., :len(one)]))["density"].shape == (16, S, 1)


def test_fit_without_density_features_is_a_user_error():
    fusion = TemporalAttentionFusion(token_dim=D, side_dim=0, set_size=S)
    with pytest.raises(UserError, match="human-designed features"):
        fusion.fit(np.zeros((4, S, D), np.float32), None)
