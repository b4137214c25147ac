"""The fees tables."""
