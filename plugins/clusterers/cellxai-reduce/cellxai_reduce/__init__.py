"""The reduction step every clusterer shares: standardise (optional), then PCA, t-SNE or nothing.

It is a library distribution because clusterer plugins may not import one another. The Params
mixin only needs pydantic; scikit-learn is imported when a reducer is fitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy is imported where used: listing plugins stays fast
    import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cellxai_core.errors import ConfigError, DataError, UserError

PCA_DEFAULT_COMPONENTS = 50  # enough for any fused vector, and the usual input size of t-SNE
TSNE_DEFAULT_COMPONENTS = 2
TSNE_SINGLE_THREAD_BELOW = 5_000


class ReduceParams(BaseModel):
    """Params of the reduction step; clusterer Params models inherit these fields."""

    model_config = ConfigDict(extra="forbid")

    reduce: Literal["pca", "tsne", "none"] = Field(
        "pca",
        description="reduction before clustering: pca (default), tsne (the paper's configuration), none",
    )
    n_components: int | float | None = Field(
        None,
        description=(
            "components kept: pca default min(50, N, D), a float in (0, 1) keeps that fraction "
            "of the variance; tsne default 2 (at most 3)"
        ),
    )
    scale: bool = Field(False, description="standardise each feature to zero mean and unit variance first")
    perplexity: float = Field(30.0, gt=0, description="t-SNE perplexity (capped at (N - 1) / 3)")

    @model_validator(mode="after")
    def _components_fit_method(self) -> "ReduceParams":
        k = self.n_components
        if k is None:
            return self
        if isinstance(k, float) and not k.is_integer():
            if self.reduce != "pca" or not 0 < k < 1:
                raise ValueError("n_components as a fraction of variance must be in (0, 1) and needs reduce=pca")
            return self
        if k < 1:
            raise ValueError(f"n_components must be >= 1, got {k}")
        if self.reduce == "tsne" and k > 3:
            raise ValueError(f"reduce=tsne supports n_components <= 3, got {k}")
        self.n_components = int(k)
        return self


def as_feature_matrix(X: Any, owner: str) -> np.ndarray:
    """``X`` as a finite float64 (N, D) array, or a DataError naming ``owner`` and what is wrong."""
    import numpy as np

    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{owner}: expected a feature matrix of shape (N, D) with N, D >= 1, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DataError(f"{owner}: features contain NaN or infinite values in {bad} of {arr.shape[0]} rows")
    return arr


class FeatureReducer:
    """Fitted reduction: ``fit_transform`` for clustering, ``transform`` for new points, ``embedding_`` for display.

    ``embedding_`` (N, 2) float32 is the t-SNE itself when reduce=tsne with 2 components,
    else the first two principal components of the (scaled) features.
    """

    def __init__(self, spec: ReduceParams, random_state: int | None = 0) -> None:
        self.reduce, self.n_components, self.scale = spec.reduce, spec.n_components, spec.scale
        self.perplexity, self.random_state = spec.perplexity, random_state
        self.embedding_: np.ndarray | None = None
        self._scaler: Any = None
        self._pca: Any = None

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        import numpy as np
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        n, d = X.shape
        if self.scale:
            self._scaler = StandardScaler()
            X = self._scaler.fit_transform(X)
        if self.reduce == "none":
            Z = X
        elif self.reduce == "pca":
            k = self.n_components if self.n_components is not None else PCA_DEFAULT_COMPONENTS
            k = min(k, n, d) if isinstance(k, int) else k
            self._pca = PCA(n_components=k, random_state=self.random_state)
            Z = self._pca.fit_transform(X)
        else:
            Z = self._tsne(X)
        self.embedding_ = self._display(X, Z)
        return np.ascontiguousarray(Z, dtype=np.float64)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Map new points into the space the clusterer was fitted in (not possible after t-SNE)."""
        if self.reduce == "tsne":
            raise UserError("reduce=tsne cannot place new points (t-SNE has no transform); use reduce=pca or none")
        if self._scaler is not None:
            X = self._scaler.transform(X)
        return X if self._pca is None else self._pca.transform(X)

    def _tsne(self, X: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        n, d = X.shape
        if n < 5:
            raise DataError(f"reduce=tsne needs at least 5 samples, got {n}")
        if d > PCA_DEFAULT_COMPONENTS:  # the usual PCA to 50 dimensions before t-SNE
            X = PCA(n_components=min(PCA_DEFAULT_COMPONENTS, n), random_state=self.random_state).fit_transform(X)
        k = self.n_components or TSNE_DEFAULT_COMPONENTS
        perplexity = min(self.perplexity, (n - 1) / 3)
        tsne = TSNE(n_components=k, perplexity=perplexity, init="pca", random_state=self.random_state)
        # Small problems gain nothing from OpenMP threads and lose 10-20x on a busy machine.
        with threadpool_limits(1 if n < TSNE_SINGLE_THREAD_BELOW else None):
            return tsne.fit_transform(X)

    def _display(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        import numpy as np
        from sklearn.decomposition import PCA

        if self.reduce == "tsne" and Z.shape[1] == 2:
            out = Z
        elif self._pca is not None and Z.shape[1] >= 2:
            out = Z[:, :2]
        elif min(X.shape) >= 2:
            out = PCA(n_components=2, random_state=self.random_state).fit_transform(X)
        else:
            out = np.zeros((X.shape[0], 2))
            out[:, : min(X.shape[1], 2)] = X[:, :2] - X[:, :2].mean(axis=0)
        return np.asarray(out, dtype=np.float32)


class ReducingClusterer:
    """Mixin of scikit-learn style clusterers with a reduction step (use with ``BaseEstimator``).

    Subclasses set ``name`` and ``params_model`` and keep their parameters as attributes
    named like the Params fields, so ``get_params()`` feeds the Params model directly.
    """

    name: str = "clusterer"
    params_model: type[ReduceParams] = ReduceParams

    def keep_params(self, init_args: dict[str, Any]) -> None:
        """Store ``__init__``'s arguments (pass ``locals()``) as attributes, then validate them up front."""
        for key, value in init_args.items():
            if key not in ("self", "__class__"):
                setattr(self, key, value)
        self.checked_params()

    def checked_params(self) -> Any:
        """The estimator's parameters validated by its Params model; ConfigError on a bad value."""
        from pydantic import ValidationError

        from cellxai_core.config import format_validation_error

        try:
            return self.params_model.model_validate(self.get_params())  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise ConfigError(format_validation_error(self.name, exc)) from None

    def reduce_features(self, X: Any, params: Any) -> np.ndarray:
        """Check ``X``, fit the reduction (kept as ``reducer_``) and set ``embedding_``."""
        X = as_feature_matrix(X, self.name)
        self.reducer_ = FeatureReducer(params, getattr(params, "random_state", 0))
        Z = self.reducer_.fit_transform(X)
        self.embedding_ = self.reducer_.embedding_
        return Z
