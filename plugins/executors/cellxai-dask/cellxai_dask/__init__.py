"""cellxai executor ``dask``: one Dask task per chunk. Importing this package imports no dask."""

__version__ = "0.1.0"
