"""tapeproxy as one mitmproxy addon: its addons, wired, in the order they see a request.

docs/request-flow.md draws the order. mitmdump and mitmweb load it through mitm_addon.py; the
lean master (runtime/master.py) adds it to its own few mitmproxy addons.
"""

from __future__ import annotations

from collections.abc import Iterable

from mitmproxy import command

from . import trailers  # noqa: F401  (a mitmproxy fix, installed on import)
from .batch import GraphBatch
from .control import Control
from .exposure import Exposure
from .guard import OfflineGuard
from .guidance import Guidance
from .harness import RuntimeRecording
from .hosts import Intercept
from .journal import Journal
from .limits import Limits
from .malformed import MalformedHeaders
from .miss import Miss
from .permissions import Permissions
from .pipeline import Pipeline
from .recorder import Recorder
from .reload import Reload
from .replay import Replay
from .retry_watch import RetryAfterWatch
from .runtime.chain import Chain
from .runtime.mode import Mode
from .scenarios import Scenarios
from .signin import SignIn
from .simulation import SimulationAddon, WorldAnswers
from .spec_answers import SpecAnswers


class Tapeproxy(Chain):
    """tapeproxy's addons (then `extra`) as the one mitmproxy addon "tapeproxy", each reachable
    typed (`.replay`, `.journal`...) and, once loaded, by name through mitmproxy's `addons.get`."""

    def __init__(self, extra: Iterable = ()) -> None:
        self.mode = Mode()
        self.intercept = Intercept()
        self.recorder = Recorder(self.intercept, self.mode)
        self.scenarios = Scenarios()
        self.simulation = SimulationAddon()
        self.replay = Replay(self.intercept, self.mode)
        self.miss = Miss(self.mode)
        self.watch = RetryAfterWatch(self.intercept)
        self.journal = Journal(self.intercept)
        self.guard = OfflineGuard(self.intercept, self.mode)
        self.limits = Limits(self.mode)
        self.recording = RuntimeRecording(self.recorder)
        self.control = Control(self.scenarios, self.simulation, self.journal, self.intercept, self.recording)
        batch, signin = GraphBatch(self.simulation), SignIn(self.mode)
        self.spec = SpecAnswers(self.mode)
        self.permissions = Permissions(self.simulation, self.spec, self.mode)
        self.journal.permissions = self.permissions.usage
        self.guidance = Guidance(self.journal)
        # The answer order: the first that answers a request wins (docs/request-flow.md).
        self.pipeline = Pipeline(
            self.intercept,
            self.control,
            [
                self.scenarios,
                batch,
                self.permissions,
                self.simulation,
                self.replay,
                signin,
                WorldAnswers(self.simulation, self.mode),
                self.spec,
                self.miss,
                self.recorder,
            ],
            on_request=[self.watch.on_request],
            on_response=[
                self.watch.on_response,
                self.scenarios.truncate,
                self.recorder.record,
                self.spec.validate,
                self.permissions.observe,
                self.guidance.observe,
                self.journal.on_response,
            ],
            on_error=[self.recorder.dropped, self.journal.on_error],
        )
        super().__init__(
            "tapeproxy",
            [
                Exposure(),
                self.limits,
                MalformedHeaders(),
                self.intercept,
                self.guard,
                self.pipeline,
                self.control,
                self.recording,
                self.watch,
                self.scenarios,
                batch,
                self.permissions,
                self.simulation,
                self.replay,
                signin,
                self.spec,
                self.miss,
                self.recorder,
                self.guidance,  # before the journal: its last findings are in the journal's report
                self.journal,
                Reload(self.mode, self.replay, self.scenarios, self.simulation),
                *extra,
            ],
        )

    @command.command("tapeproxy.reset")
    def reset(self) -> None:
        """Sequences, scenario counters and the simulated world start again (the pytest plugin, per test)."""
        self.replay.reset()
        self.scenarios.reset()
        self.simulation.reset()
