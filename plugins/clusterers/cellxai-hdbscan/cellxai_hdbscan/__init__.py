"""cellxai clusterer: HDBSCAN (the ``hdbscan`` package) with noise, soft membership and approximate_predict.

Import the estimator from ``cellxai_hdbscan.estimator``; importing this package stays cheap.
"""

__version__ = "0.1.0"
