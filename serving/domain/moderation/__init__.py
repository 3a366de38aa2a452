"""Moderation (SPEC §6): decisions, the review queue and the audit trails, for moderators."""
