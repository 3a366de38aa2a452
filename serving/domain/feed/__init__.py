"""The hot feed (SPEC §5): snapshots from Redis, ranked, capped, re-ranked per user, paged."""
