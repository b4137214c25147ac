"""The promotions tables."""
