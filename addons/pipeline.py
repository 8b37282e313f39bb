"""The request pipeline: the one ordered list of answerers, and the guards they share.

A request to an intercepted host is offered to each answerer in turn (scenarios, Graph $batch, the
simulation, the cassettes, sign-in, the miss, and last the recorder, which sends it upstream when
recording) until one answers it, kills it or streams it. The pipeline, not each answerer, checks
that a flow is still unanswered and that its host is intercepted, and turns an answerer that
raises into an API-shaped 500: mitmproxy would otherwise forward the flow to the real service.
The control API (http://tapeproxy/) is answered here too, before any of them. Once a response
exists, the observers see it (Retry-After watch, truncation, recorder, journal) in order.

A flow the pipeline did not start with (a Graph $batch step, see batch.py) is run through the
whole master, so it meets this same pipeline, and is journaled, watched and recorded like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from mitmproxy import http

from .core.control_api import CONTROL_HOST
from .hosts import Intercept
from .runtime import responses

logger = logging.getLogger(__name__)

Observer = Callable[[http.HTTPFlow], None]


class Answerer(Protocol):
    where: str  # named in the 500 (X-Tapeproxy-Error) when it raises

    def answer(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Answer, kill or leave the flow; an awaitable when it must wait (the pipeline awaits it)."""


class Pipeline:
    name = "tapeproxy_pipeline"

    def __init__(
        self,
        intercept: Intercept,
        control: Answerer,
        answerers: Sequence[Answerer],
        on_request: Sequence[Observer] = (),
        on_response: Sequence[Observer] = (),
        on_error: Sequence[Observer] = (),
    ) -> None:
        self.intercept = intercept
        self.control = (control,)
        self.answerers = tuple(answerers)
        self.on_request, self.on_response, self.on_error = tuple(on_request), tuple(on_response), tuple(on_error)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Sync while every answerer is (the common case costs no coroutine)."""
        if responses.handled(flow):
            return None
        host = flow.request.host
        if host.lower().rstrip(".") == CONTROL_HOST:
            return self._offer(flow, self.control, 0)
        if not self.intercept.intercepts(host):
            if self.intercept.blocks(host):
                responses.blocked(flow, host)
            return None
        _notify(self.on_request, flow)
        return self._offer(flow, self.answerers, 0)

    def response(self, flow: http.HTTPFlow) -> None:
        _notify(self.on_response, flow)

    def error(self, flow: http.HTTPFlow) -> None:
        _notify(self.on_error, flow)

    def _offer(self, flow: http.HTTPFlow, answerers: Sequence[Answerer], start: int) -> Awaitable[None] | None:
        for n in range(start, len(answerers)):
            try:
                pending = answerers[n].answer(flow)
            except Exception as e:  # never let a failure send the flow upstream
                responses.internal_error(flow, answerers[n].where, e)
                return None
            if pending is not None:
                return self._after(flow, answerers, n, pending)
            if responses.handled(flow):
                return None
        return None

    async def _after(
        self, flow: http.HTTPFlow, answerers: Sequence[Answerer], n: int, pending: Awaitable[None]
    ) -> None:
        try:
            await pending
        except Exception as e:
            if not responses.handled(flow):
                responses.internal_error(flow, answerers[n].where, e)
            return
        if not responses.handled(flow):
            rest = self._offer(flow, answerers, n + 1)
            if rest is not None:
                await rest


def _notify(observers: Sequence[Observer], flow: http.HTTPFlow) -> None:
    for observer in observers:
        try:
            observer(flow)
        except Exception:  # as mitmproxy does per addon: logged, and the next one still sees the flow
            logger.exception(f"tapeproxy: error in {observer.__qualname__}")
