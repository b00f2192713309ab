"""cellxai-text: explainers that describe clusters in words and in cosine similarities.

- ``template-text``: per cluster, sentences on the density and trend of each cell type
  and on what sets the cluster apart, from a replaceable YAML template file.
- ``cluster-similarity``: inter-cluster cosine similarity of the centres and
  intra-cluster cosine similarity of the members.

The functions behind them work on plain numpy arrays too:
:func:`cellxai_text.similarity.cluster_similarity`,
:func:`cellxai_text.statements.describe_clusters`.
"""

__version__ = "0.1.0"
