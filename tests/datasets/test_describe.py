"""``describe(i)`` must agree with ``ds[i]`` (the load stage trusts it instead of reading images)."""

import cellxai_core as cx


def test_describe_matches_the_samples():
    for ds, key in (
        (cx.load_dataset("synthetic-microwell", n_wells=6, size=64, seed=3), "program"),
        (cx.load_dataset("synthetic-fluorescence", n_cells=6, size=48, seed=3), "class"),
    ):
        for i in range(len(ds)):
            sample = ds[i]
            sid, meta, truth = ds.describe(i)
            assert sid == sample.id and meta == sample.meta
            assert truth == {key: sample.truth[key]}
