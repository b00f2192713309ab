"""cellxai clusterers: Affinity Propagation in torch (CPU / CUDA) and k-means, after PCA or t-SNE.

Import the estimators from their modules (``cellxai_affinity.affinity``,
``cellxai_affinity.kmeans``); importing this package stays cheap.
"""

__version__ = "0.1.0"
