"""Verdicts are computed from the numbers, and each can fail."""

from __future__ import annotations

import numpy as np
import torch

from cellxai_core.model import SampleModel
from cellxai_gradcam import grad_cam
from cellxai_gradcam.evaluate import RANDOMIZED_PARTS
from cellxai_gradcam.faithfulness import cascading_randomizations, randomize_, spearman_per_image
from cellxai_gradcam.verdicts import ALPHA, empty_row, paired_row, randomization_row, ratio_row, verdict_rows


def test_paired_row_passes_only_on_a_significant_difference():
    rng = np.random.default_rng(0)
    random_auc = rng.uniform(0.5, 0.7, 30)
    good = paired_row("deletion", random_auc - 0.2, random_auc, True, "random maps")
    assert good["passed"] and good["p"] < ALPHA and good["n"] == 30
    same = paired_row("deletion", random_auc + rng.normal(0, 0.01, 30), random_auc, True, "random maps")
    assert not same["passed"] and same["p"] > ALPHA
    worse = paired_row("insertion", random_auc - 0.2, random_auc, False, "random maps")  # higher is better here
    assert not worse["passed"]
    few = paired_row("deletion", random_auc[:4] - 0.2, random_auc[:4], True, "random maps")
    assert few["passed"] is False and few["p"] is None and "too few" in few["why"]


def test_ratio_row_needs_the_ratio_and_the_test():
    area = np.full(20, 0.1)
    assert ratio_row("mass", np.full(20, 0.5) + np.linspace(0, 0.01, 20), area, 3.0, "truth masks")["passed"]
    low = ratio_row("mass", np.full(20, 0.25) + np.linspace(0, 0.01, 20), area, 3.0, "truth masks")  # above area, below 3x
    assert low["p"] < ALPHA and not low["passed"]
    nan = ratio_row("mass", np.full(3, np.nan), np.full(3, 0.1), 3.0, "truth masks")
    assert nan["passed"] is None and nan["n"] == 0


def test_ratio_row_on_dense_objects_asks_half_the_way_to_a_perfect_map():
    # nuclei covering 41 % of a tile: 3x the area is out of reach of any map, so the bar is halfway from 0.41 to 1
    area = np.full(20, 0.41)
    jitter = np.linspace(0, 0.01, 20)
    assert ratio_row("mass", np.full(20, 0.92) + jitter - 0.01, area, 3.0, "truth masks")["passed"]
    short = ratio_row("mass", np.full(20, 0.65) + jitter, area, 3.0, "truth masks")  # above the area, below 0.705
    assert short["p"] < ALPHA and not short["passed"] and "needs 0.705" in short["why"]


def test_empty_maps_are_counted_and_explained():
    row = empty_row(5, 20)
    assert row["value"] == 0.25 and row["passed"] is False and "5 of 20" in row["why"]
    assert empty_row(0, 20)["passed"]


def test_randomisation_verdict_fails_on_a_model_randomised_before_explaining(grouped_parts):
    """The maps of a model already in the state the check randomises to cannot differ from it: the check fails."""
    encoder, fusion, head = grouped_parts
    x = torch.rand(8, 2, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.zeros(8, dtype=torch.long)
    seed = 5
    model = SampleModel(encoder, fusion, head).eval()
    for i, part in enumerate(RANDOMIZED_PARTS):  # what the check will do, done before explaining
        if any(True for _ in getattr(model, part).parameters()):
            randomize_(getattr(model, part), seed + i)
    stages = cascading_randomizations(model, RANDOMIZED_PARTS, seed)
    maps = grad_cam(model, model.encoder.cam_layer, x, t).numpy()
    rows = []
    for name, rmodel in stages:
        rmaps = grad_cam(rmodel, rmodel.encoder.cam_layer, x, t).numpy()
        rows.append(randomization_row(name, spearman_per_image(maps, rmaps)))
    assert rows and all(r["passed"] is False for r in rows)
    assert all(r["value"] > 0.99 for r in rows)
    # the same check on the model it was built for (weights differ from the randomised ones) sees the change
    trained = SampleModel(*grouped_parts).eval()
    with torch.no_grad():
        trained.head.weight.mul_(-1)  # a different model: the evidence for class 0 flips sign
    tmaps = grad_cam(trained, trained.encoder.cam_layer, x, t).numpy()
    rho = spearman_per_image(tmaps, grad_cam(stages[-1][1], stages[-1][1].encoder.cam_layer, x, t).numpy())
    assert float(np.mean(rho)) < 0.99


def test_verdict_rows_cover_every_measured_check():
    rng = np.random.default_rng(1)
    n = 16
    arrays = {
        "deletion_auc": rng.uniform(0.1, 0.2, n), "random_auc": rng.uniform(0.5, 0.6, n),
        "insertion_auc": rng.uniform(0.6, 0.7, n), "random_insertion_auc": rng.uniform(0.3, 0.4, n),
        "energy_inside": rng.uniform(0.6, 0.9, (n, 2)), "mask_area": np.full((n, 2), 0.1),
        "rank_accuracy": rng.uniform(0.5, 0.8, (n, 2)), "sparseness": rng.uniform(0.6, 0.7, (n, 2)),
        "stages": ["head"], "spearman": rng.uniform(0.8, 0.9, (1, n, 2)),
        "road_morf": rng.uniform(0.1, 0.2, n), "random_road_morf": rng.uniform(0.4, 0.5, n),
        "road_lerf": rng.uniform(0.6, 0.7, n), "random_road_lerf": rng.uniform(0.4, 0.5, n),
        "sensitivity": rng.uniform(0.01, 0.05, n), "other_sample_distance": rng.uniform(0.8, 1.2, n),
    }
    rows = verdict_rows(arrays, "pseudo-label masks", 1, 2 * n)
    by = {r["check"]: r for r in rows}
    assert set(by) == {"deletion AUC below random maps", "insertion AUC above random maps",
                       "relevance mass inside the pseudo-label masks", "relevance rank accuracy (pseudo-label masks)",
                       "sparseness (Gini of the map)", "maps change when head is randomised", "empty maps",
                       "ROAD MoRF below random maps", "ROAD LeRF above random maps",
                       "average sensitivity below another sample's"}
    assert all(r["threshold"] for r in rows)
    assert by["maps change when head is randomised"]["passed"] is False
    assert all(by[k]["passed"] for k in by if k != "maps change when head is randomised")
    swapped = verdict_rows({**arrays, "road_morf": arrays["random_road_morf"], "random_road_morf": arrays["road_morf"],
                            "sensitivity": arrays["other_sample_distance"], "other_sample_distance": arrays["sensitivity"]},
                           "pseudo-label masks", 1, 2 * n)
    failed = {r["check"] for r in swapped if r["passed"] is False}
    assert {"ROAD MoRF below random maps", "average sensitivity below another sample's"} <= failed


def test_evaluate_prints_a_verdict_line_per_check():
    from cellxai_gradcam.commands import verdict_table

    rows = [paired_row("deletion AUC below random maps", np.linspace(0.1, 0.2, 10), np.linspace(0.5, 0.6, 10), True, "random maps"),
            empty_row(3, 10)]
    lines = verdict_table(rows)
    assert lines[1].split()[0] == "PASS" and "deletion AUC below random maps" in lines[1] and "e-0" in lines[1]
    assert lines[2].split()[0] == "FAIL" and "empty maps" in lines[2] and "3 of 10 maps" in lines[3]


def test_empty_maps_cannot_pass_the_randomisation_check():
    """Empty (constant) trained maps have no ranking to compare: left out, never counted as rho = 0."""
    empty = np.zeros((12, 8, 8))
    rho = spearman_per_image(empty, np.random.default_rng(0).random((12, 8, 8)))
    row = randomization_row("head", rho)
    assert np.isnan(rho).all() and row["passed"] is not True and row["n"] == 0
