"""``synthetic-fluorescence``: single cells stained for vimentin, actin and DNA, normal vs metastatic.

Cell ``i`` is generated on access from ``SeedSequence([seed, i])``; classes come in
shuffled pairs, so any prefix of the dataset is balanced within one cell. With
``set_axis="image"`` a sample is one RGB image (1, 3, H, W) (R vimentin, G actin,
B DAPI); with ``set_axis="channel"`` the stains are isolated, (3, 1, H, W), and
``set_labels`` names the set positions. Truth: ``class`` (name) and ``mask`` (S, H, W):
0 background, 1 cell, 2 nucleus. Its ``objects`` say the same: the cell in the actin stain, the
nucleus in DAPI (isolated stains have one channel: the cell in it), with the renderer's mean diameters.
"""

from __future__ import annotations

import numpy as np

from cellxai_core.data import Sample

from .base import check_index, sample_id
from .fluorescence_render import phenotype, render_cell
from .objects import ObjectClass

STAINS = ("vimentin", "actin", "dapi")


class SyntheticFluorescence:
    """Lazy generator of labelled fluorescence single-cell images."""

    classes = ("normal", "metastatic")
    meta_keys = ("cell",)
    truth_keys = ("class", "mask")

    def __init__(
        self,
        n_cells: int = 512,
        size: int = 128,
        difficulty: float = 0.5,
        set_axis: str = "image",
        seed: int = 0,
    ) -> None:
        if set_axis not in ("image", "channel"):
            raise ValueError(f"set_axis must be 'image' or 'channel', got {set_axis!r}")
        self.n_cells = int(n_cells)
        self.size = int(size)
        self.difficulty = float(difficulty)
        self.set_axis = set_axis
        self.seed = int(seed)
        self.image_size = (self.size, self.size)
        k = self.size / 128.0  # cells: area-equivalent radius 25-36 px, nuclei ~10.5 px at 128 px
        cell = ObjectClass(name="cell", channel="actin" if set_axis == "image" else 0, diameter=round(61.0 * k, 1))
        if set_axis == "image":
            self.channels: tuple[str, ...] = STAINS
            self.set_size = 1
            self.set_labels: tuple[str, ...] = ("cell",)
            self.objects: tuple[ObjectClass, ...] = (cell, ObjectClass(name="nucleus", channel="dapi", diameter=round(21.0 * k, 1)))
        else:
            self.channels = ("intensity",)
            self.set_size = 3
            self.set_labels = STAINS
            self.objects = (cell,)

    def __len__(self) -> int:
        return self.n_cells

    def label(self, index: int) -> str:
        """The class of cell ``index`` (cheap: nothing is drawn). Pairs of cells hold one of each class."""
        index = check_index(index, self.n_cells)
        pair, slot = divmod(index, 2)
        flip = np.random.default_rng(np.random.SeedSequence([self.seed, pair, 0xC1A5])).integers(0, 2)
        return self.classes[int(slot ^ flip)]

    def describe(self, index: int) -> tuple[str, dict, dict]:
        """(id, meta, scalar truth) of cell ``index`` without drawing it (the pipeline's load stage)."""
        index = check_index(index, self.n_cells)
        return sample_id("cell", index, self.n_cells), {"cell": index}, {"class": self.label(index)}

    def __getitem__(self, index: int) -> Sample:
        index = check_index(index, self.n_cells)
        name = self.label(index)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        p = phenotype(rng, name == "metastatic", self.difficulty)
        rgb, mask = render_cell(rng, p, self.size, self.difficulty)
        if self.set_axis == "image":
            images, masks = rgb[None], mask[None]
        else:
            images, masks = rgb[:, None], np.repeat(mask[None], 3, axis=0)
        return Sample(
            id=sample_id("cell", index, self.n_cells),
            images=images,
            channels=self.channels,
            set_axis=self.set_axis,  # type: ignore[arg-type]
            meta={"cell": index},
            truth={"class": name, "mask": masks},
        )
