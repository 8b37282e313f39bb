"""What the record settings mean for a request: decided once (the recorder's configure), read by all.

Replay adds one fact of its cassettes: how big a request body they hold, since the limits must let
such a request in for it to be answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.redact import Redactor


@dataclass(slots=True)
class Mode:
    live: bool = False  # a request nothing offline answers goes upstream, and is recorded
    replays: bool = True  # cassettes answer (record mode "all" records everything anew)
    redactor: Redactor = field(default_factory=Redactor)  # the secrets kept out of cassettes and logs
    body_files: Path | None = None  # --body-files: the folder a recorded body over body_file_over goes to
    body_file_over: int = 0
    largest_recorded_request: int = 0  # bytes: replay lets a request body this big in, whatever --max-*-body says
    file_server: tuple[str, int] | None = None  # where replay streams body files from (the guard lets it be)
    upstream_targets: frozenset[tuple[str, int]] = frozenset()  # --upstream servers recording talks to
