"""Offline evaluation of ``type=personal`` against the field's baselines (personal_eval.py).

- :mod:`.data`: the one dataset file format (user, item, weight, optional time) and the splits;
- :mod:`.metrics`: recall@k and NDCG@k over ranked candidate lists;
- :mod:`.baselines`: most-popular, implicit ALS and EASE, tuned on the validation split;
- :mod:`.replay`: the training interactions through the real pipeline, embeddings and reranker.
"""
