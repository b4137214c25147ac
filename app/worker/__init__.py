"""Time-based background work, run by `marketplace worker` or in-process in development."""
