"""One piece of logic for blocking and asyncio callers.

Request handling that does I/O (the profile API's gate, the profile's merge-following) is written
once as a coroutine over injected I/O functions. The asyncio server awaits it with asynchronous
I/O; everything else (SQLite, tests, the CLI) passes I/O functions that never suspend and runs the
coroutine to completion with :func:`run_inline` — no event loop, no thread.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_inline(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits all complete at once (blocking I/O wrapped by :func:`inline`)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("run_inline: the coroutine suspended — it awaited real asynchronous I/O; "
                       "await it on an event loop instead")


def inline(fn: Callable[..., T]) -> Callable[..., Coroutine[Any, Any, T]]:
    """A blocking function as an awaitable that completes at once (for :func:`run_inline`)."""

    async def call(*args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    call.__name__ = getattr(fn, "__name__", "call")
    call.__doc__ = fn.__doc__
    return call
