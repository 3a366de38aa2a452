"""User and video embeddings for ``type=personal``: learned from engagement, or imported.

Learned (:mod:`.learned`, the default): a truncated SVD of the user x video engagement matrix.
Imported (:mod:`.imported`): a Parquet file of an upstream model's vectors, validated as a
whole. Either way the input is the counted engagement of the warehouse
(:mod:`.interactions`), and the result an :class:`hot.embedding_store.EmbeddingSet` that the
``embeddings`` asset publishes as a new LanceDB version.
"""
