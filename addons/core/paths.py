"""Path templates, the one compiler for every place a path is matched by its shape: scenario rules'
`match.path` (core/scenario.py) and the resource modules' routes (sim/).

    /v1.0/print/taskDefinitions/{definition_id}/tasks/{task_id}

`{name}` and `*` take one segment, `**` any number; `{name**}`, last, takes the rest of the path
(any number of segments, maybe none) as a parameter, with its leading slash: an address a module
parses itself (OneDrive's `root:/a/b.txt:/content`). Literal text is compared as live paths are
normalised (core/matching.normalise_path); a trailing slash is allowed.
"""

from __future__ import annotations

import re

from .matching import normalise_path

_TAIL = re.compile(r"\{(\w+)\*\*\}")


class PathTemplate:
    def __init__(self, text: str):
        if not text.startswith("/"):
            raise ValueError(f"path {text!r} must start with /")
        self.text = text
        self.params: list[str] = []
        # The segments before the first one that is not plain text: rules are looked up by them.
        self.literal_prefix: tuple[str, ...] = ()
        literal = True
        parts = []
        segments = re.sub("/+", "/", text).split("/")[1:]
        for n, segment in enumerate(segments):
            literal = literal and bool(segment) and re.fullmatch(r"[^{}*]+", segment) is not None
            if literal:
                self.literal_prefix += (normalise_path("/" + segment)[1:],)
            if segment == "**":
                parts.append("(?:/[^/]*)*")
                continue
            tail = _TAIL.fullmatch(segment)
            if tail:
                if n != len(segments) - 1:
                    raise ValueError(f"{segment} takes the rest of the path: it must come last in {text!r}")
                self._add(tail.group(1), segment)
                parts.append(f"(?P<{tail.group(1)}>(?:/[^/]*)*?)")
                continue
            pattern = ""
            for piece in re.split(r"(\{[^{}/]*\}|\*)", segment):
                if piece == "*":
                    pattern += "[^/]*"
                elif piece.startswith("{") and piece.endswith("}"):
                    self._add(piece[1:-1], piece)
                    pattern += f"(?P<{piece[1:-1]}>[^/]+)"
                elif "{" in piece or "}" in piece:
                    raise ValueError(f"unbalanced brace in path {text!r}")
                else:
                    pattern += re.escape(normalise_path("/" + piece)[1:])  # as live paths are normalised
            parts.append("/" + pattern)
        self.regex = re.compile("".join(parts) + "/?$" if parts else "/$")

    def _add(self, name: str, written: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"path parameter {written!r} must be a name, e.g. {{task_id}}")
        if name in self.params:
            raise ValueError(f"path parameter {written!r} appears twice")
        self.params.append(name)

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.match(path)
        return m.groupdict() if m else None


class Routes:
    """A module's routes: (name, template) pairs, tried in order, the first that matches wins (list
    a literal segment before a parameter that would also take it: `files/upload_sessions` before
    `files/{file_id}`)."""

    def __init__(self, *routes: tuple[str, str]) -> None:
        self.routes = [(name, PathTemplate(template)) for name, template in routes]

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(the route's name, its parameters), or None: not one of these routes."""
        for name, template in self.routes:
            params = template.match(path)
            if params is not None:
                return name, params
        return None

    def templates(self) -> list[str]:
        return [t.text for _, t in self.routes]
