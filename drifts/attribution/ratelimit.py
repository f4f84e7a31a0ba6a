"""One request rate shared by every worker: each caller reserves the next free slot, then waits for it.

Slots are 1/rate seconds apart per key (an account and region), so no one-second window ever holds more
than `rate` requests, whichever process or machine sends them. With Redis the schedule lives in one key
per account and region, advanced atomically by a Lua script on Redis' own clock; without Redis it lives in
this process (enough for a single worker; several workers without Redis each get the full rate).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# KEYS[1]: the schedule key; ARGV[1]: the slot length in microseconds. Returns how long to wait (µs).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
local ttl_ms = math.floor((slot + step - now) / 1000) + 1000
redis.call('SET', KEYS[1], tostring(slot + step), 'PX', ttl_ms)
return slot - now
"""

# A little over 1/rate apart, so timer jitter on the waiting side never puts two slots inside one window.
_MARGIN_SECONDS = 0.02


class RateLimiter:
    """`acquire(key)` blocks until the caller may send one request under `rate` per second for that key."""

    def __init__(
        self,
        rate: float,
        *,
        redis_url: str = "",
        prefix: str = "driftwatch:rate:",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.step = 1.0 / rate + _MARGIN_SECONDS
        self.prefix = prefix
        self._sleep = sleep
        self._redis = None
        self._script = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
            self._script = self._redis.register_script(_RESERVE)
        self._local_lock = threading.Lock()
        self._local_next: dict[str, float] = {}

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def acquire(self, key: str) -> float:
        """Wait for this key's next slot; returns the seconds waited."""
        wait = self._reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, key: str) -> float:
        if self._script is not None:
            micros = self._script(keys=[self.prefix + key], args=[int(self.step * 1_000_000)])
            return int(micros) / 1_000_000
        with self._local_lock:
            now = time.monotonic()
            slot = max(now, self._local_next.get(key, 0.0))
            self._local_next[key] = slot + self.step
            return slot - now


_shared: dict[tuple, RateLimiter] = {}
_shared_lock = threading.Lock()


def lookup_limiter() -> RateLimiter:
    """The process-wide limiter for CloudTrail LookupEvents, built from the settings once."""
    from django.conf import settings

    key = (settings.DRIFTWATCH_CLOUDTRAIL_LOOKUP_RATE, settings.DRIFTWATCH_REDIS_URL)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RateLimiter(key[0], redis_url=key[1], prefix="driftwatch:rate:cloudtrail-lookup:")
        return _shared[key]
