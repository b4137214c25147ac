"""Where the public API lives."""

# Each domain router carries the full prefix itself (rather than being nested under a
# prefixed parent) so that a route's own `path` is the template metrics and logs report.
API_PREFIX = "/v1"
