import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cellxai_core.errors import DataError, UserError
from cellxai_unet.resnet import ResNet18Encoder, ResNet34Encoder
from cellxai_unet.unet import UNetEncoder

COLOUR = [
    {"name": "cancer", "hue": [60, 180], "saturation": [0.3, 1]},
    {"name": "t_cell", "label": "T cell", "hue": [300, 60], "saturation": [0.3, 1]},
    {"name": "dead", "saturation": [0, 0.3]},
]
TINY = dict(base_channels=4, depth=2, objects=COLOUR)


@pytest.mark.parametrize("decoder_tokens, out_dim, cam_hw", [(True, 16 + 3, (37, 45)), (False, 16, (9, 11))])
def test_unet_shapes_on_odd_sizes_and_cam_layer(decoder_tokens, out_dim, cam_hw):
    model = UNetEncoder(in_channels=3, decoder_tokens=decoder_tokens, **TINY)
    x = torch.rand(2, 3, 37, 45)
    assert model.segment(x).shape == (2, 4, 37, 45)
    assert model(x).shape == (2, out_dim) and model.out_dim == out_dim
    seen = {}
    handle = model.cam_layer.register_forward_hook(lambda m, i, o: seen.update(out=o))
    x.requires_grad_(True)
    model(x).sum().backward()
    handle.remove()
    assert seen["out"].shape[-2:] == cam_hw
    assert any(m is model.cam_layer for m in model.modules())
    assert ("probabilities" in model.cam_reading) == decoder_tokens  # what the report says about reading the maps
    # the cam layer is not registered twice: safetensors can save the state dict
    assert not any(k.startswith("cam_layer") for k in model.state_dict())


def test_cam_layer_receives_gradient_from_tokens():
    model = UNetEncoder(in_channels=3, **TINY)
    grads = {}
    handle = model.cam_layer.register_full_backward_hook(lambda m, gi, go: grads.update(g=go[0]))
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    handle.remove()
    assert grads["g"].abs().sum() > 0


def test_same_seed_same_weights_and_other_seed_differs():
    a, b = UNetEncoder(in_channels=3, seed=3, **TINY), UNetEncoder(in_channels=3, seed=3, **TINY)
    c = UNetEncoder(in_channels=3, seed=4, **TINY)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)


def test_pretrain_loss_decreases_and_reports_metrics(wells_factory, context_of):
    ds = wells_factory(n=6, size=48)
    model = UNetEncoder(in_channels=3, iterations=40, batch_size=6, eval_wells=2, **TINY)
    metrics = model.pretrain(context_of(ds))
    assert metrics["pretrain_loss_last"] < 0.8 * metrics["pretrain_loss_first"]
    for cell in ("cancer", "t_cell", "dead"):
        for name in ("acc", "se", "sp", "pc", "js", "dc"):
            assert 0 <= metrics[f"seg_{name}_{cell}"] <= 1
        assert metrics[f"pseudo_dc_{cell}"] > 0.85
    assert metrics["eval_samples"] == 1  # a quarter of 6 wells at most
    assert not model.training


def test_pretrain_is_deterministic(wells_factory, context_of):
    ds = wells_factory(n=4, size=48)
    runs = []
    for _ in range(2):
        model = UNetEncoder(in_channels=3, iterations=3, batch_size=4, eval_wells=0, **TINY)
        model.pretrain(context_of(ds))
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_pretrain_on_truth_needs_masks(wells_factory, context_of):
    ds = wells_factory(n=4, size=48)
    ds.truth_keys = ("program",)
    model = UNetEncoder(in_channels=3, iterations=2, pretrain_on="truth", **TINY)
    with pytest.raises(UserError, match="no truth masks"):
        model.pretrain(context_of(ds))
    calibrated = UNetEncoder(in_channels=3, pretrain=False, **TINY).pretrain(context_of(ds))
    assert set(calibrated) == {f"{q}_{n}" for q in ("diameter", "threshold", "object_area") for n in ("cancer", "t_cell", "dead")}


def test_weights_round_trip_and_mismatch(tmp_path):
    model = UNetEncoder(in_channels=3, seed=1, **TINY)
    path = tmp_path / "unet.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = UNetEncoder(in_channels=3, seed=2, weights=str(path), **TINY)
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(model(x), loaded(x))
    torch.save(model.state_dict(), tmp_path / "unet.pt")
    assert torch.allclose(model(x), UNetEncoder(in_channels=3, weights=str(tmp_path / "unet.pt"), **TINY)(x))
    with pytest.raises(UserError, match="do not fit"):
        UNetEncoder(in_channels=3, base_channels=8, depth=2, weights=str(path))
    with pytest.raises(UserError, match="does not exist"):
        UNetEncoder(in_channels=3, weights=str(tmp_path / "missing.pt"), **TINY)


@pytest.mark.parametrize("cls, channels", [(ResNet18Encoder, 3), (ResNet34Encoder, 1)])
def test_resnet_encoders(cls, channels):
    model = cls(in_channels=channels)
    x = torch.rand(2, channels, 64, 64)
    assert model(x).shape == (2, 512) and model.out_dim == 512
    assert model.segment(x).shape == (2, 2, 64, 64)
    assert model.cam_layer is model.trunk.layer4[-1]
    assert model.name == f"resnet{cls.depth}"
    assert model.class_names == ["background", "object"]  # no objects given: one class in channel 0
    assert model.handcrafted_names[:3] == ["object_area", "object_count", "object_intensity"]


def test_resnet_accepts_plain_torchvision_weights(tmp_path):
    import torchvision

    plain = torchvision.models.resnet18(weights=None)
    torch.nn.init.constant_(plain.conv1.weight, 0.01)
    torch.save(plain.state_dict(), tmp_path / "r18.pth")
    model = ResNet18Encoder(in_channels=3, weights=str(tmp_path / "r18.pth"))
    assert torch.all(model.trunk.conv1.weight == 0.01)
    with pytest.raises(UserError, match="do not fit"):
        ResNet18Encoder(in_channels=1, weights=str(tmp_path / "r18.pth"))


def test_handcrafted_through_the_encoder(painted):
    model = UNetEncoder(in_channels=3, **TINY)
    images = torch.from_numpy(np.stack([painted[i].images for i in range(2)]))
    feats = model.handcrafted(images)
    assert feats.shape == (2, 5, len(model.handcrafted_names))


def test_pretrain_on_truth_reads_the_masks(wells_factory, context_of, monkeypatch):
    ds = wells_factory(n=4, size=48)
    model = UNetEncoder(in_channels=3, iterations=2, batch_size=4, pretrain_on="truth", eval_wells=1, **TINY)
    original = model.pseudo_labels
    calls = []
    monkeypatch.setattr(model, "pseudo_labels", lambda *a, **k: calls.append(1) or original(*a, **k))
    metrics = model.pretrain(context_of(ds))
    assert "seg_dc_cancer" in metrics
    assert len(calls) == 1  # only to score the pseudo-labels on the held-out well, not to train


def test_cell_type_masks_are_hard_in_value_and_soft_in_gradient():
    from cellxai_unet.unet import CellTypeMasks

    logits = torch.randn(2, 4, 5, 5, requires_grad=True)
    masks = CellTypeMasks()(logits)
    assert masks.shape == (2, 3, 5, 5)
    expected = torch.nn.functional.one_hot(logits.argmax(1), 4).permute(0, 3, 1, 2)[:, 1:].float()
    assert torch.allclose(masks, expected, atol=1e-6)
    masks.sum().backward()
    assert logits.grad.abs().sum() > 0


def test_colour_classes_need_rgb_images():
    with pytest.raises(DataError, match="hue / saturation.*1 channel"):
        UNetEncoder(in_channels=1, **TINY)
    with pytest.raises(UserError, match="no channel 'DAPI' among a, b"):
        UNetEncoder(in_channels=2, channels=("a", "b"), objects=[{"name": "nucleus", "channel": "DAPI"}], **dict(base_channels=4, depth=2))


@pytest.mark.parametrize("n_channels", [1, 2, 4])
def test_grey_and_many_channel_images_pretrain_and_encode(n_channels, context_of):
    """Any channel count: segmentation classes = background + the declared objects (channel classes)."""
    from cellxai_core.data import Sample

    class Stains:
        set_axis, set_size, image_size = "image", 1, (48, 48)
        names = ("dapi", "actin", "tubulin", "marker")[:n_channels]
        channels = names
        objects = [{"name": "nucleus", "channel": "dapi", "diameter": "auto"}] + (
            [{"name": "cell", "channel": 1, "diameter": 16}] if n_channels > 1 else [])

        def __len__(self):
            return 6

        def __getitem__(self, i):
            rng = np.random.default_rng([n_channels, i])
            image = np.zeros((n_channels, 48, 48), np.float32)
            yy, xx = np.mgrid[:48, :48]
            for cy, cx in rng.integers(-2, 3, (4, 2)) + [(12, 12), (12, 36), (36, 12), (36, 36)]:
                disc = (yy - cy) ** 2 + (xx - cx) ** 2
                image[0][disc <= 16] = 0.8
                if n_channels > 1:
                    image[1][disc <= 49] = 0.5
            image += rng.normal(0, 0.02, image.shape).astype(np.float32)
            return Sample(f"s{i}", image.clip(0, 1)[None], self.names, "image")

    ds = Stains()
    model = UNetEncoder(in_channels=n_channels, channels=ds.names, objects=ds.objects, iterations=3, batch_size=2,
                        base_channels=4, depth=2)
    metrics = model.pretrain(context_of(ds))
    assert model.n_classes == 1 + len(ds.objects) and "pretrain_loss_last" in metrics
    assert 6 <= metrics["diameter_nucleus"] <= 12  # discs of radius 4: 9 px
    x = torch.from_numpy(np.stack([ds[i].images for i in range(2)]))
    assert model(x.flatten(0, 1)).shape == (2, model.out_dim)
    feats = model.handcrafted(x)
    names = model.handcrafted_names
    assert feats.shape == (2, 1, len(names)) and "nucleus_count" in names
    assert ("cell_area" in names) == (n_channels > 1)
    assert feats[:, 0, names.index("nucleus_count")].tolist() == [4, 4]


def _background_cell_probability(model, ds) -> float:
    """Mean probability of any cell class on the truth background of every image of ``ds``."""
    images = torch.as_tensor(np.stack([ds[i].images for i in range(len(ds))])).flatten(0, 1)
    masks = torch.as_tensor(np.stack([np.asarray(ds[i].truth["mask"]) for i in range(len(ds))])).flatten(0, 1)
    with torch.no_grad():
        cell = 1 - model.segment(images).softmax(dim=1)[:, 0]
    return float(cell[masks == 0].mean())


def test_default_pretraining_leaves_little_cell_probability_on_background(wells_factory, context_of):
    # Grad-CAM reads these probabilities: at a constant lr 1e-3 the argmax was right but every background
    # pixel kept tens of percent of cell probability, and maps spread over the background
    ds = wells_factory(n=6, size=48)
    residual = {}
    for name, settings in {"default": {}, "old": {"lr": 1e-3, "schedule": "constant"}}.items():
        model = UNetEncoder(in_channels=3, iterations=120, batch_size=6, eval_wells=0, base_channels=8, depth=2,
                            objects=COLOUR, **settings)
        model.pretrain(context_of(ds))
        residual[name] = _background_cell_probability(model, ds)
    assert residual["default"] < 0.1 < residual["old"], residual


def test_one_cycle_schedule_warms_up_and_anneals():
    from cellxai_unet.params import PretrainParams
    from cellxai_unet.pretrain import make_optimizer, make_scheduler

    param = torch.nn.Parameter(torch.zeros(1))
    for schedule, expect_last in (("one-cycle", lambda lr: lr < 1e-4), ("constant", lambda lr: lr == 1e-2)):
        settings = PretrainParams(iterations=20, lr=1e-2, schedule=schedule)
        optimizer = make_optimizer([param], settings)
        scheduler = make_scheduler(optimizer, settings)
        rates = []
        for _ in range(settings.iterations):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        assert max(rates) == pytest.approx(1e-2)
        assert expect_last(rates[-1]), (schedule, rates)
        assert (rates[0] < 1e-3) == (schedule == "one-cycle")


@pytest.mark.parametrize("iterations", range(1, 13))
def test_every_short_schedule_steps_through(iterations):
    # torch's OneCycleLR divided by zero at 10 steps (its warm-up ended on step 0)
    from cellxai_unet.params import PretrainParams
    from cellxai_unet.pretrain import make_optimizer, make_scheduler

    param = torch.nn.Parameter(torch.zeros(1))
    settings = PretrainParams(iterations=iterations)
    optimizer = make_optimizer([param], settings)
    scheduler = make_scheduler(optimizer, settings)
    for _ in range(iterations):
        assert 0 < optimizer.param_groups[0]["lr"] <= settings.lr
        optimizer.step()
        scheduler.step()
