"""Grad-CAM throughput: cellxai_gradcam.grad_cam vs pytorch-grad-cam, same model, layer, batch.

    .venv/bin/python benchmarks/bench_gradcam.py [--device cpu|cuda] [--seconds 2] [--threads N]

Models: torchvision resnet18 (random init, 3x128x128, layer4) and a small U-Net-like
conv net (3x128x128, explained at its last decoder conv, full resolution). Batch
sizes 1, 8, 32. Prints maps/s (median over alternating repeats), the speed-up, and the largest
difference between the two maps as a correctness check.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch
from torch import nn


class TinyUNet(nn.Module):
    """Two-level encoder-decoder with a skip connection and a linear classifier on the pooled output."""

    def __init__(self, in_channels: int = 3, base: int = 16, n_classes: int = 10) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

        self.down1, self.down2 = block(in_channels, base), block(base, 2 * base)
        self.bottom = block(2 * base, 4 * base)
        self.up2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, stride=2)
        self.dec2 = block(4 * base, 2 * base)
        self.up1 = nn.ConvTranspose2d(2 * base, base, 2, stride=2)
        self.dec1 = block(2 * base, base)
        self.classifier = nn.Linear(base, n_classes)

    @property
    def cam_layer(self) -> nn.Module:
        return self.dec1[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(nn.functional.max_pool2d(d1, 2))
        b = self.bottom(nn.functional.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
        return self.classifier(u1.mean(dim=(2, 3)))


def timed_pair(first: Callable[[], object], second: Callable[[], object], seconds: float, device: torch.device) -> tuple[float, float]:
    """Median seconds per call of two functions, timed alternately so that load changes hit both alike."""

    def once(fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for fn in (first, second, first, second):  # warm-up
        once(fn)
    times: tuple[list[float], list[float]] = ([], [])
    start = time.perf_counter()
    while len(times[0]) < 3 or (time.perf_counter() - start < seconds and len(times[0]) < 50):
        times[0].append(once(first))
        times[1].append(once(second))
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--batches", default="1,8,32")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import torchvision
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from cellxai_gradcam import grad_cam

    device = torch.device(args.device)
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=10)
    unet = TinyUNet()
    cases = [("resnet18", resnet, resnet.layer4), ("tiny-unet", unet, unet.cam_layer)]
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, input 3x128x128")
    header = f"{'model':<10} {'layer':<10} {'batch':>5} {'ours maps/s':>12} {'pgc maps/s':>11} {'speed-up':>8} {'max |diff|':>10}"
    print(header)
    print("-" * len(header))
    for name, model, layer in cases:
        model = model.to(device).eval()
        layer_name = next(n for n, m in model.named_modules() if m is layer)
        for batch in [int(b) for b in args.batches.split(",")]:
            x = torch.rand(batch, 3, 128, 128, device=device)
            targets = [i % 10 for i in range(batch)]
            with GradCAM(model, [layer]) as cam:
                ref_targets = [ClassifierOutputTarget(t) for t in targets]
                ours_t, ref_t = timed_pair(
                    lambda: grad_cam(model, layer, x, targets), lambda: cam(x, ref_targets), args.seconds, device
                )
                diff = float(np.abs(grad_cam(model, layer, x, targets).cpu().numpy() - cam(x, ref_targets)).max())
            print(
                f"{name:<10} {layer_name:<10} {batch:>5} {batch / ours_t:>12.1f} {batch / ref_t:>11.1f} "
                f"{ref_t / ours_t:>7.2f}x {diff:>10.1e}"
            )


if __name__ == "__main__":
    main()
