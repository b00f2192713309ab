"""Entry-point module: registers the encoder by name, lazily."""

from cellxai_core import hookimpl

from .params import HistogramParams


@hookimpl
def cellxai_encoders(register):
    register(
        "intensity-histogram",
        summary="Soft per-channel intensity histogram (differentiable, Grad-CAM ready).",
        params=HistogramParams,
        target="cellxai_histogram.encoder:IntensityHistogram",
    )
