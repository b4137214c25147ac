"""Categories, listings (with moderation and images), reports, and catalog search."""
