"""Integration tests: the real server as a process, driven only through the typed client
generated from the committed openapi/openapi.json (see harness.py)."""
