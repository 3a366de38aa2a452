"""Loading snapshots, building their served views, and the personal re-ranking."""
