"""Signed webhooks: a seller's endpoints, fan-out of outbox events, and delivery with retries."""
