"""The ``cluster`` task: any registered clusterer on the fused vectors, and what every clustering stores."""
