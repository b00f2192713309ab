"""Compose the microwell method in plain Python, without a pipeline file.

Every component is built by name from the registry, exactly as a pipeline would
build it, and the pieces are wired by hand: encode -> human-designed features ->
temporal fusion -> Affinity Propagation -> Grad-CAM of each well's own cluster.

    python examples/compose.py [--wells 48] [--size 96]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

import cellxai_core as cx
from cellxai_core.context import RunContext
from cellxai_core.model import SampleModel, encode_grouped, seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=48)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seed_everything(args.seed)

    ds = cx.load_dataset("synthetic-microwell", n_wells=args.wells, size=args.size, seed=args.seed)
    ctx = RunContext.standalone(ds, device="cpu", seed=args.seed, batch_size=16)

    # 1. the U-Net trains itself on HSV pseudo-label segmentation (no annotation used)
    encoder = cx.load_component("encoder", "unet", base_channels=8, iterations=40, seed=args.seed, in_channels=len(ds.channels))
    print("pretrain:", {k: round(v, 3) for k, v in (encoder.pretrain(ctx) or {}).items() if isinstance(v, float)})
    encoder.eval()

    # 2. tokens per image and human-designed features per well, batch by batch
    tokens, side = [], []
    with torch.no_grad():
        for _, images in ctx.iter_batches(16):
            x = torch.from_numpy(images)
            tokens.append(encode_grouped(encoder, x))
            side.append(encoder.handcrafted(x))
    tokens_np, side_np = torch.cat(tokens).numpy(), torch.cat(side).numpy()

    # 3. temporal attention fusion, trained on the frozen tokens
    fusion = cx.load_component("fusion", "temporal-attention", token_dim=encoder.out_dim,
                               side_dim=side_np.shape[-1], set_size=ds.set_size)
    fusion.fit(tokens_np, side_np, ctx)
    fusion.eval()
    with torch.no_grad():
        fused = fusion(torch.from_numpy(tokens_np), torch.from_numpy(side_np)).numpy()

    # 4. Affinity Propagation chooses the number of clusters itself
    ap = cx.load_component("clusterer", "affinity-propagation", random_state=args.seed)
    labels = ap.fit_predict(fused)
    programs = [ds[i].truth["program"] for i in range(len(ds))]
    print(f"clusters: {len(set(labels))}, converged: {ap.converged_}, ARI vs planted programs: {adjusted_rand_score(programs, labels):.3f}")

    # 5. Grad-CAM of each well's own cluster, through a linear head on the frozen features
    from cellxai_gradcam import grad_cam

    head = torch.nn.Linear(fused.shape[1], int(labels.max()) + 1)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    X, y = torch.from_numpy(fused), torch.from_numpy(labels.astype(np.int64))
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(head(X), y).backward()
        opt.step()
    model = SampleModel(encoder, fusion, head).eval()
    _, images = next(ctx.iter_batches(4))
    maps = grad_cam(model, model.cam_layer, torch.from_numpy(images), labels[:4].tolist(),
                    forward_kwargs={"side": torch.from_numpy(side_np[:4])})
    print("Grad-CAM maps:", tuple(maps.shape), f"range [{maps.min():.2f}, {maps.max():.2f}]")


if __name__ == "__main__":
    main()
