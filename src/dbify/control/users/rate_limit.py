"""Sign-in rate limiting: failed attempts per client address and per email.

In memory, per process (the Redis-backed limiter of the scale-out mode replaces it
behind the same two methods). A sliding window of one minute: after ``limit`` failures
for the address or for the email, further attempts are refused until the window
moves on, so guessing a password cannot be parallelised across addresses either.
"""

from __future__ import annotations

import time
from collections import deque

_WINDOW_SECONDS = 60.0


class LoginRateLimiter:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        while window and now - window[0] > _WINDOW_SECONDS:
            window.popleft()
        return window

    def allowed(self, address: str, email: str) -> bool:
        now = time.monotonic()
        return all(
            len(self._recent(key, now)) < self._limit for key in (f"a:{address}", f"e:{email}")
        )

    def record_failure(self, address: str, email: str) -> None:
        now = time.monotonic()
        for key in (f"a:{address}", f"e:{email}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of addresses
            self._failures = {k: v for k, v in self._failures.items() if v}
