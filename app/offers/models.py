"""The offers tables."""
