"""Requests per signed-in user on the REST API and GraphQL (issue 31 item 2): a program that loops cannot starve
the api-server for everyone else, and one user's burst never limits another. The pages (the report, the plans,
a run's report) are not limited: a person browsing them is never refused.

The limit is in `limits`' notation, `INSTANCE_BENCHMARKS_API_RATE_LIMIT` (default 120/minute: a dashboard that
polls every second stays under it, a scraper does not; "off" turns it off), counted per user in a moving window.
The counts live in the api-server process (memory://) unless `INSTANCE_BENCHMARKS_API_RATE_LIMIT_STORAGE` names
a store that several api-servers or workers share (redis://host:6379/1, any storage `limits` knows); with the
in-process default, each api-server worker counts on its own.
"""

# No `from __future__ import annotations`: FastAPI reads the dependency's annotations, imported inside per_user().
import functools
import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter

API = "INSTANCE_BENCHMARKS_API_RATE_LIMIT"
DEFAULT_LIMIT = "120/minute"
# Contributions (issue 32): each is stored and checked, so far fewer than reads
SUBMISSIONS = "INSTANCE_BENCHMARKS_SUBMISSION_RATE_LIMIT"
DEFAULT_SUBMISSION_LIMIT = "30/hour"
DEFAULT_STORAGE = "memory://"


@dataclass(frozen=True)
class RateLimit:
    """The deployment's limit and the limiter that counts it (None: no limit)."""

    item: "RateLimitItem | None"
    limiter: "RateLimiter | None"
    variable: str = API  # the setting, and the scope its counts are kept under

    @classmethod
    def from_environment(cls, variable: str = API, default: str = DEFAULT_LIMIT) -> "RateLimit":
        """The limit `variable` sets (its `default` where unset), counted under its own name."""
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        text = os.environ.get(variable, default).strip()
        if text.lower() == "off":
            return cls(None, None, variable)
        try:
            item = parse(text)
        except ValueError:
            raise ValueError(f"{variable}: {text!r} is not a rate limit; write it as "
                             f"<count>/<second|minute|hour|day> (default {default}) or off") from None
        storage = os.environ.get("INSTANCE_BENCHMARKS_API_RATE_LIMIT_STORAGE", DEFAULT_STORAGE)
        return cls(item, MovingWindowRateLimiter(storage_from_string(storage)), variable)

    def check(self, user_id: str) -> dict[str, str]:
        """Count one request of `user_id`: the headers that say what is left, or LimitExceeded."""
        if self.item is None or self.limiter is None:
            return {}
        allowed = self.limiter.hit(self.item, self.variable, user_id)
        stats = self.limiter.get_window_stats(self.item, self.variable, user_id)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            raise LimitExceeded(f"rate limit: {self.item} per user, and {user_id!r} has used it; retry in {reset} s "
                                f"(the deployment sets it: {self.variable})", retry_after=reset)
        return {"RateLimit-Limit": str(self.item.amount), "RateLimit-Remaining": str(stats.remaining),
                "RateLimit-Reset": str(reset)}


class LimitExceeded(Exception):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@functools.cache
def current(variable: str = API, default: str = DEFAULT_LIMIT) -> RateLimit:
    """The api-server's limit, made on its first limited request (tests clear the cache to change it)."""
    return RateLimit.from_environment(variable, default)


def per_user(variable: str = API, default: str = DEFAULT_LIMIT) -> Any:
    """The FastAPI dependency that counts a request against the signed-in user (Airflow's own get_user: the same
    user the app's authentication found) and answers 429 with Retry-After past the limit. What is left goes to
    request.state, for `headers_middleware` (an endpoint that returns its own Response drops a dependency's headers)."""
    from airflow.api_fastapi.core_api.security import GetUserDep
    from fastapi import Depends, HTTPException, Request

    def rate_limited(request: Request, user: GetUserDep) -> None:
        try:
            request.state.rate_limit_headers = current(variable, default).check(str(user.get_id()))
        except LimitExceeded as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None

    return Depends(rate_limited)


async def headers_middleware(request: Any, call_next: Any) -> Any:
    """RateLimit-Limit, -Remaining and -Reset on each limited answer, so a program can pace itself."""
    response = await call_next(request)
    response.headers.update(getattr(request.state, "rate_limit_headers", None) or {})
    return response
