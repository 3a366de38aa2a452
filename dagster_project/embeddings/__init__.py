"""User and video embeddings for ``type=personal``: learned from engagement, or imported.

Learned (:mod:`.als`, the default): implicit-feedback ALS (the ``implicit`` library), its
factors, regularisation, confidence weighting, recency and blend with hotness chosen on a
time split of the warehouse's own events within a time budget (:mod:`.tuning`). Imported
(:mod:`.imported`): a Parquet file of an upstream model's vectors, validated as a whole.
Either way the input is the counted engagement of the warehouse (:mod:`.interactions`), the
model is measured on a time-split hold-out against the served one, the global order and most
popular (:mod:`.evaluation`, :mod:`.check`), and the result an
:class:`hot.embedding_store.EmbeddingSet` that the ``embeddings`` asset stages as a new
LanceDB version and serves only when its check passes. Ranking is the served formula of
:mod:`hot.personal_scoring` everywhere.
"""
