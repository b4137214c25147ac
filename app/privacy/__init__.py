"""Privacy: an account's personal data exported (GET /v1/me/export) and erased (DELETE /v1/me)."""
