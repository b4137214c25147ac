"""Returns and disputes: the buyer's ways back when a sale goes wrong."""
