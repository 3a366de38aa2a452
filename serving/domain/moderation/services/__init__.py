"""Recording decisions, reading the audit trail, building the review queue."""
