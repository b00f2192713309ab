"""cellxai-unet: the microwell method's per-image side (DESIGN §1.1).

HSV pseudo-labels, human-designed features, the ``unet`` / ``resnet18`` / ``resnet34``
encoders and the ``temporal-attention`` fusion. Importing this package is cheap;
torch is imported only by the modules that build components.
"""

__version__ = "0.1.0"
