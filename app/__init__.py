"""Multi-vendor marketplace REST API."""
