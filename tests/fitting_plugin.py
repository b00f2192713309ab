"""A fusion that learns in ``fit``: each fit moves its weight one step from wherever it starts.

Why: a fuse stage that resumes must train from the fusion's initial weights, not on from weights
a killed fuse stage saved (tests/test_pipeline.py); a fusion whose fit converged would hide that.
"""

from cellxai_core import hookimpl


def make_fitting_fusion(token_dim: int, side_dim: int, set_size: int):
    import torch
    from torch import nn

    class StepFusion(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.out_dim, self.attention = token_dim, None
            self.weight = nn.Parameter(torch.ones(()))

        def fit(self, tokens, side, ctx=None) -> dict:
            with torch.no_grad():
                self.weight += 1.0
            return {"weight": float(self.weight.detach())}

        def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
            return tokens.mean(1) * self.weight

    return StepFusion()


@hookimpl
def cellxai_fusions(register):
    register("test-step", summary="Learns one step per fit.", target=f"{__name__}:make_fitting_fusion")
