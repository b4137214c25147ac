"""Time-ordered UUIDs (RFC 9562 version 7) so primary keys sort by creation time.

Within one millisecond a 12-bit counter (RFC 9562 §6.2, method 1) keeps ids strictly
increasing in this process, so "newest first" by id is exact even for bursts.
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def uuid7() -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        if unix_ms > _last_ms:
            _last_ms = unix_ms
            # Start low in the range so a burst has room to count up.
            _counter = int.from_bytes(os.urandom(1), "big")
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:  # 4096 ids in one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
        unix_ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80  # 48-bit timestamp
    value |= 0x7 << 76  # version
    value |= counter << 64  # rand_a used as a monotonic counter
    value |= 0b10 << 62  # variant
    value |= rand_b  # 62 random bits
    return uuid.UUID(int=value)
