"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS by test_fuzz.py).

Every POST accepts an Idempotency-Key, and a key reused with another request is refused on
purpose (422 `idempotency_key_reused`, API.md). The fuzzer draws header values from a small
space, so it reuses keys across unrelated requests, which no client does. A request that
carries a key gets a fresh one, as a client sends one per operation; key reuse and replay are
tested in tests/core/test_idempotency.py. A request without a key keeps having none.

Likewise `If-Match`: a client sends back only an ETag it has read, and any tag the fuzzer
makes up is stale by construction (412 `precondition_failed`, on purpose). The header is left
out; conditional edits are tested in tests/core/conditional.py and the concurrent-edit tests.
"""

import uuid
from typing import Any

import schemathesis

IDEMPOTENCY_HEADER = "idempotency-key"
PRECONDITION_HEADER = "if-match"


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == IDEMPOTENCY_HEADER:
            headers[name] = str(uuid.uuid4())
        elif name.lower() == PRECONDITION_HEADER:
            del headers[name]
