"""Built-in datasets: synthetic generators with planted truth, and readers of microscopy files.

Registered through the ``cellxai`` entry-point group (``cellxai_core.datasets.plugin``)
like any third-party plugin. Importing this package stays cheap: the dataset classes
(numpy, opencv, tifffile, zarr) are imported only when a dataset is built.
"""
