"""Dagster assets, one module per domain: ingest, dbt, publish, embeddings."""
