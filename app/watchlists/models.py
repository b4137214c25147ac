"""The watchlists tables."""
