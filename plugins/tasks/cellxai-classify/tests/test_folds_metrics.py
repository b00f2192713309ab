import numpy as np
import pytest

from cellxai_classify.folds import assign_folds, fold_indices
from cellxai_classify.metrics import METRICS, classification_metrics, roc_points, summarize
from cellxai_core.errors import ConfigError


def test_every_sample_is_held_out_exactly_once_and_folds_are_stratified():
    labels = np.array([0] * 30 + [1] * 20)
    fold = assign_folds(labels, 5, seed=3)
    assert fold.min() == 0 and fold.max() == 4
    held_out = np.concatenate([fold_indices(fold, k)[1] for k in range(5)])
    assert sorted(held_out.tolist()) == list(range(50))  # no sample in two test folds, none missing
    for k in range(5):
        train, test = fold_indices(fold, k)
        assert not set(train) & set(test)
        assert np.bincount(labels[test]).tolist() == [6, 4]
    assert np.array_equal(fold, assign_folds(labels, 5, seed=3))
    assert not np.array_equal(fold, assign_folds(labels, 5, seed=4))


def test_too_few_samples_per_class_is_a_config_error():
    with pytest.raises(ConfigError, match="class 'rare' has 2"):
        assign_folds(np.array([0] * 10 + [1] * 2), 5, seed=0, classes=["common", "rare"])


def test_metrics_of_known_predictions():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    m = classification_metrics(y, proba)
    assert set(m) == set(METRICS)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["precision"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert m["auc_macro"] == pytest.approx(1.0)  # the ranking is perfect even if a threshold is not
    assert m["f1_micro"] == pytest.approx(0.75)
    assert m["f1_samples"] == pytest.approx(0.75)


def test_summary_is_mean_and_sample_sd():
    s = summarize([{"auc_macro": 0.8}, {"auc_macro": 1.0}])
    assert s["auc_macro"]["mean"] == pytest.approx(0.9)
    assert s["auc_macro"]["sd"] == pytest.approx(np.std([0.8, 1.0], ddof=1))


def test_roc_points_per_class_and_micro():
    y = np.array([0, 1, 0, 1, 1])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.55, 0.45]])
    curves = roc_points(y, proba, ["normal", "meta static"])
    assert set(curves) == {"normal", "meta_static", "micro"}
    c = curves["meta_static"]
    assert c["fpr"][0] == 0 and c["tpr"][-1] == 1 and np.all(np.diff(c["fpr"]) >= 0)
    assert np.all(c["thresholds"] <= 1.0)


def test_classify_spec_validation():
    from pydantic import ValidationError

    from cellxai_classify.config import ClassifySpec

    spec = ClassifySpec(preprocess={"resample": 48})
    assert spec.preprocess.resample == (48, 48)
    for bad in ({"folds": 1}, {"lr": 0}, {"augment": {"copies": -1}}, {"preprocess": {"resample": 4}}, {"optimizer": "adam"}):
        with pytest.raises(ValidationError):
            ClassifySpec(**bad)
