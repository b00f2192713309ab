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
