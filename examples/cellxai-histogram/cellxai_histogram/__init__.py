"""Example cellxai plugin: a soft intensity-histogram encoder."""
