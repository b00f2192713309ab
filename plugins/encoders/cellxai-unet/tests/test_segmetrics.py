import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, precision_score, recall_score

from cellxai_unet.segmetrics import ConfusionCounter, binary_metrics


def test_metrics_match_sklearn_one_vs_rest():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=(3, 20, 20))
    pred = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, 4, size=truth.shape))
    counter = ConfusionCounter(4)
    counter.update(torch.from_numpy(pred[:2]), torch.from_numpy(truth[:2]))  # accumulated over two updates
    counter.update(torch.from_numpy(pred[2:]), torch.from_numpy(truth[2:]))
    names = ("background", "a", "b", "c")
    m = counter.metrics(names)
    for k, name in enumerate(names[1:], start=1):
        t, p = truth.ravel() == k, pred.ravel() == k
        assert np.isclose(m[f"acc_{name}"], accuracy_score(t, p))
        assert np.isclose(m[f"se_{name}"], recall_score(t, p))
        assert np.isclose(m[f"sp_{name}"], recall_score(~t, ~p))
        assert np.isclose(m[f"pc_{name}"], precision_score(t, p))
        assert np.isclose(m[f"js_{name}"], jaccard_score(t, p))
        assert np.isclose(m[f"dc_{name}"], f1_score(t, p))
    assert np.isclose(m["dc_mean"], np.mean([m[f"dc_{n}"] for n in names[1:]]))
    assert "dc_background" not in m


def test_zero_division_conventions():
    assert binary_metrics(0, 0, 0, 100) == {"acc": 1.0, "se": 1.0, "sp": 1.0, "pc": 1.0, "js": 1.0, "dc": 1.0}
    missed = binary_metrics(0, 0, 5, 95)  # the class exists but is never predicted
    assert missed["pc"] == 0.0 and missed["se"] == 0.0 and missed["dc"] == 0.0
    assert binary_metrics(0, 5, 0, 95)["dc"] == 0.0
