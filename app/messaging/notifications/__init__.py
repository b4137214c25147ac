"""In-app notifications: derived from domain events inside the emitting transaction."""
