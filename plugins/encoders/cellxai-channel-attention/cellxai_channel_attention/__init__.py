"""Multi-attention channel networks (Mamalakis et al. 2023) as cellxai components.

- encoder ``backbone``: the paper's 3-layer CNN (``arch: cnn3``) or any torchvision
  classification model by name, input channels adapted, optional user weights.
- fusion ``channel-attention``: RGB family, attention between every pair of isolated channels.
- fusion ``self-attention``: MHL family, self-attention over the backbone's spatial tokens.
- fusion ``mean-pool``: the plain CNN baseline (global average of the tokens).

Importing this package does not import torch; the modules holding the torch code do.
"""

__version__ = "0.1.0"
