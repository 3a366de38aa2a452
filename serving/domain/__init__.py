"""The API by domain, each with its controllers, schemas and services.

``feed`` (the hot feed) stands alone; ``moderation`` (decisions, review queue, audit) pages
the feed's snapshots with its parameters and wire types; ``system`` (health, metrics, the
benchmark baseline) reports on the feed; ``web`` (pages, assets, media, API docs) talks to
the others only over HTTP. Nothing in the core imports a domain.
"""
