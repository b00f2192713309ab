"""Small models shared by the Grad-CAM tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class SmallCNN(nn.Module):
    """Two conv blocks and a linear classifier; ``features[3]`` is the explained conv."""

    def __init__(self, in_channels: int = 3, n_classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Linear(16, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


class TinyEncoder(nn.Module):
    """Per-image encoder (N, C, H, W) -> (N, D) with a ``cam_layer``, as cellxai encoders are."""

    def __init__(self, in_channels: int = 2, dim: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, dim, 3, padding=1, stride=2)
        self.out_dim = dim
        self.cam_layer = self.conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x)))).mean(dim=(2, 3))


class MeanFusion(nn.Module):
    """Mean over the set axis; side features, when given, are appended."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = None

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        fused = tokens.mean(dim=1)
        return fused if side is None else torch.cat([fused, side.mean(dim=1)], dim=1)


class EncoderHead(nn.Module):
    """encoder then head on single images: the ungrouped twin of a mean-fusion SampleModel."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class LoopModel(nn.Module):
    """Calls its encoder once per set position, so the hooked layer fires S times."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = torch.stack([self.encoder(x[:, s]) for s in range(x.shape[1])], dim=1)
        return self.head(tokens.mean(dim=1))


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one intra-op thread is as fast, and immune to a busy machine's oversubscription."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_cnn() -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN().eval()


@pytest.fixture
def grouped_parts() -> tuple[TinyEncoder, MeanFusion, nn.Linear]:
    torch.manual_seed(1)
    return TinyEncoder(), MeanFusion(), nn.Linear(8, 3)


@pytest.fixture
def models():
    """The model classes above, for tests that build their own variants."""
    from types import SimpleNamespace

    return SimpleNamespace(
        SmallCNN=SmallCNN, TinyEncoder=TinyEncoder, MeanFusion=MeanFusion,
        EncoderHead=EncoderHead, LoopModel=LoopModel,
    )


# -- a tiny finished run: dataset with planted blobs, model, store --------------------------
class BlobDataset:
    """Samples of S=2 images, C=2 channels, 24x24: a bright disc in channel ``program`` on a dark background.

    ``truth["mask"]`` marks the disc. With ``identical=True`` every sample of a program is
    the same (for exact geometric-mean checks).
    """

    channels = ("a", "b")
    set_axis = "time"
    set_size = 2
    image_size = (24, 24)
    classes = ("low", "high")

    def __init__(self, n: int = 24, identical: bool = False, seed: int = 0) -> None:
        self.n, self.identical, self.seed = n, identical, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import numpy as np

        from cellxai_core.data import Sample

        program = i % 2
        rng = np.random.default_rng(self.seed * 1000 + (program if self.identical else i))
        yy, xx = np.mgrid[:24, :24]
        images = rng.random((2, 2, 24, 24)).astype(np.float32) * 0.03
        masks = np.zeros((2, 24, 24), dtype=np.int32)
        for s in range(2):
            cy, cx = rng.integers(6, 18, size=2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 16
            images[s, program][disc] = 0.8 + 0.2 * rng.random(int(disc.sum()))
            masks[s][disc] = 1
        truth = {"program": program, "class": self.classes[program], "mask": masks}
        return Sample(id=f"s{i}", images=images, channels=self.channels, set_axis="time", truth=truth)


class BrightEncoder(nn.Module):
    """Non-negative conv filters with negative biases: silent on the background, active on bright pixels."""

    def __init__(self, in_channels: int = 2, dim: int = 8, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, dim, 3, padding=1, groups=2)  # channel-a features stay apart from channel-b ones
        with torch.no_grad():
            for conv, fan_in, bias in ((self.conv1, 9, -0.2), (self.conv2, 36, -0.1)):
                conv.weight.copy_(torch.rand(conv.weight.shape, generator=g) * 2 / fan_in)
                conv.bias.fill_(bias)
            self.conv1.weight[:4, 1] *= 0.1  # half the filters prefer channel a, half channel b
            self.conv1.weight[4:, 0] *= 0.1
        self.out_dim = dim
        self.cam_layer = self.conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x)))).mean(dim=(2, 3)) * 10

    handcrafted_names = ("mean_a", "mean_b")

    def handcrafted(self, images: torch.Tensor) -> torch.Tensor:
        """(B, S, C, H, W) -> (B, S, C): mean intensity per channel, as human-designed side features."""
        return images.mean(dim=(3, 4))


def _write(store, stage: str, prefix: str, arrays: dict, attrs: dict | None = None) -> None:
    w = store.writer(stage, prefix)
    for name, value in arrays.items():
        w.write(name, value)
    w.attrs.update(attrs or {})
    w.commit()


@pytest.fixture
def make_run(tmp_path):
    """``make_run(task="cluster"|"classify", identical=False, n=24)`` -> a RunContext of a finished tiny run."""
    import numpy as np
    from types import SimpleNamespace

    from cellxai_core.context import RunContext
    from cellxai_core.data import load_batch
    from cellxai_core.model import SampleModel
    from cellxai_core.progress import progress
    from cellxai_core.store import RunStore

    def build(task: str = "cluster", identical: bool = False, n: int = 24, noise: bool = True):
        ds = BlobDataset(n=n, identical=identical)
        model = SampleModel(BrightEncoder(), MeanFusion()).eval()
        store = RunStore(tmp_path / f"{task}-{identical}-{n}.zarr")
        samples, images = load_batch(ds, range(n))
        x = torch.from_numpy(images)
        side = model.encoder.handcrafted(x)
        with torch.no_grad():
            fused = model.fuse(x, side).numpy()
        programs = np.array([s.truth["program"] for s in samples])
        _write(store, "load", "samples", {
            "id": np.array([s.id for s in samples]),
            "truth/program": programs,
            "truth/class": np.array([s.truth["class"] for s in samples]),
        }, {"classes": list(ds.classes)})
        _write(store, "encode", "features", {"handcrafted": side.numpy()})
        _write(store, "fuse", "features", {"fused": fused})
        if task == "cluster":
            labels = programs.astype(np.int32).copy()
            if noise:
                labels[-1] = -1
            _write(store, "cluster", "clusters", {"labels": labels})
        else:
            from cellxai_gradcam.head import train_linear_head

            head, _ = train_linear_head(fused, programs, device=torch.device("cpu"), seed=0)
            model = SampleModel(model.encoder, model.fusion, head).eval()
            with torch.no_grad():
                proba = torch.softmax(head(torch.from_numpy(fused)), dim=1).numpy()
            w = store.writer("classify", "predictions")
            w.write("proba", proba, attrs={"classes": list(ds.classes)})
            w.commit()
        config = SimpleNamespace(task=task, batch_size=8, seed=0)
        return RunContext(
            config=config, dataset=ds, store=store, run_dir=tmp_path, device="cpu", seed=0,
            progress=progress, loaded_model=model,
        )

    return build


def run_explainer(ctx, name: str, explainer) -> dict:
    """Run an explainer like the pipeline does: through a stage writer that commits."""
    w = ctx.store.writer(f"explain:{name}", f"explanations/{name}")
    explainer.run(ctx, w)
    w.commit()
    return ctx.store.attrs(f"explanations/{name}")


@pytest.fixture
def explain():
    return run_explainer
