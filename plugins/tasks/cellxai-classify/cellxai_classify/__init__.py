"""The ``classify`` task (stratified k-fold training and evaluation) and ``cellxai compare``.

    cellxai run examples/fluorescence.yaml --out runs/fluorescence     # task: classify
    cellxai compare runs/a runs/b --metric auc_macro

Importing this package imports no torch: ``plugin`` registers the task by its target
(``cellxai_classify.task:ClassifyTask``), imported only when a pipeline uses it.
"""
