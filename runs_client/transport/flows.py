"""Sans-I/O flows: the client's logic written once, run by a sync or an
async loop.

A flow is a generator that yields ``Call``s (an operation of the generated
client and its arguments) and receives each call's result; whatever else it
yields (rows, runs) goes to the caller. ``run`` and ``iterate`` execute its
calls on ``RetryingClient``; ``arun`` and ``aiterate`` await them on
``AsyncRetryingClient``. A call that raises is thrown into the flow at its
``yield``, so the flow's own ``try``/``except`` (halving a refused page, say)
works the same under both loops. Request building, page parsing and paging
decisions thus live in the flow; only these four loops differ.

A ``Call`` may name its own client (``call_on``): one of the same kind,
aimed elsewhere (the columnar endpoint, say); it is sent there instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "Call",
    "Flow",
    "Steps",
    "aiterate",
    "arun",
    "call",
    "call_on",
    "iterate",
    "run",
]

T = TypeVar("T")
Item = TypeVar("Item")


@dataclass(frozen=True)
class Call:
    """One operation of the generated client, by method name, to be sent."""

    operation: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    # The client to send it on; None: the one running the flow.
    client: object | None = None


def call(operation: str, *args: Any, **kwargs: Any) -> Call:
    return Call(operation, args, kwargs)


def call_on(client: object, operation: str, *args: Any, **kwargs: Any) -> Call:
    """A ``Call`` sent on ``client`` (of the kind the loop awaits or not)."""
    return Call(operation, args, kwargs, client)


# A flow that returns T; the value sent back for each Call is its result.
Flow = Generator[Call, Any, T]
# A flow that also yields items for its caller (rows of a scan, say).
Steps = Generator["Call | Item", Any, None]


def _method(client: object, step: Call) -> Any:
    return getattr(client if step.client is None else step.client, step.operation)


def run(client: object, flow: Flow[T]) -> T:
    """Run ``flow`` to its end, sending its calls on a sync client."""
    try:
        step = next(flow)
        while True:
            try:
                result = _method(client, step)(*step.args, **step.kwargs)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()


async def arun(client: object, flow: Flow[T]) -> T:
    """Run ``flow`` to its end, awaiting its calls on an async client.

    A cancellation is not thrown into the flow (no flow handles it): the flow
    is closed and the cancellation goes on.
    """
    try:
        step = next(flow)
        while True:
            try:
                result = await _method(client, step)(*step.args, **step.kwargs)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()


def iterate(client: object, steps: Steps[Item]) -> Iterator[Item]:
    """The items ``steps`` yields, its calls sent on a sync client."""
    try:
        step = next(steps)
        while True:
            if not isinstance(step, Call):
                item: Item = step
                yield item
                step = next(steps)
                continue
            try:
                result = _method(client, step)(*step.args, **step.kwargs)
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration:
        return
    finally:
        steps.close()


async def aiterate(client: object, steps: Steps[Item]) -> AsyncIterator[Item]:
    """The items ``steps`` yields, its calls awaited on an async client."""
    try:
        step = next(steps)
        while True:
            if not isinstance(step, Call):
                item: Item = step
                yield item
                step = next(steps)
                continue
            try:
                result = await _method(client, step)(*step.args, **step.kwargs)
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration:
        return
    finally:
        steps.close()
