"""Talking to people: conversations, notifications and webhooks, fed by outbox events."""
