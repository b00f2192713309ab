"""The shared reduction step: PCA / t-SNE / none, the display embedding, bad input and bad params."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.datasets import make_blobs

from cellxai_core.errors import DataError, UserError
from cellxai_reduce import FeatureReducer, ReduceParams, as_feature_matrix


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    X, _ = make_blobs(n_samples=60, n_features=12, centers=3, random_state=0)
    return X


def test_pca_keeps_the_requested_components_and_places_new_points(blobs):
    reducer = FeatureReducer(ReduceParams(reduce="pca", n_components=4))
    Z = reducer.fit_transform(blobs)
    assert Z.shape == (60, 4) and reducer.embedding_.shape == (60, 2)
    assert np.allclose(reducer.transform(blobs[:5]), Z[:5])
    assert np.allclose(reducer.embedding_, Z[:, :2], atol=1e-5)


def test_variance_fraction_and_none(blobs):
    Z = FeatureReducer(ReduceParams(reduce="pca", n_components=0.9)).fit_transform(blobs)
    assert 1 <= Z.shape[1] < 12
    assert FeatureReducer(ReduceParams(reduce="none")).fit_transform(blobs).shape == (60, 12)


def test_tsne_embedding_is_the_display_and_cannot_place_new_points(blobs):
    reducer = FeatureReducer(ReduceParams(reduce="tsne", perplexity=10))
    Z = reducer.fit_transform(blobs)
    assert Z.shape == (60, 2) and np.allclose(reducer.embedding_, Z)
    with pytest.raises(UserError, match="t-SNE has no transform"):
        reducer.transform(blobs)


def test_bad_input_and_params_are_user_errors():
    with pytest.raises(DataError, match="NaN or infinite values in 1 of 2 rows"):
        as_feature_matrix([[1.0, np.nan], [1.0, 2.0]], "test")
    with pytest.raises(DataError, match=r"shape \(3,\)"):
        as_feature_matrix([1.0, 2.0, 3.0], "test")
    with pytest.raises(ValidationError, match="needs reduce=pca"):
        ReduceParams(reduce="tsne", n_components=0.5)
    with pytest.raises(ValidationError, match="n_components <= 3"):
        ReduceParams(reduce="tsne", n_components=5)
