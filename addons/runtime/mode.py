"""What the record settings mean for a request: decided once (the recorder's configure), read by all."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.redact import Redactor


@dataclass(slots=True)
class Mode:
    live: bool = False  # a request nothing offline answers goes upstream, and is recorded
    replays: bool = True  # cassettes answer (record mode "all" records everything anew)
    redactor: Redactor = field(default_factory=Redactor)  # the secrets kept out of cassettes and logs
