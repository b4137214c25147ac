"""Outgoing mail: queued in the transaction of the change that causes it, sent by the worker.

`queue` renders a template and writes a `MailMessage` row beside the change (a rollback
removes both); the worker's `deliver_due_mail` claims due rows, hands them to the configured
backend (console, SMTP or none) and records the outcome, retrying with backoff. Sending is at
least once: SMTP has no way to make it exactly once (a worker killed after the server took a
message, before the outcome is written, sends it again), so every message carries a stable
`Message-ID` by which mail clients and filters recognise a repeat.
"""
