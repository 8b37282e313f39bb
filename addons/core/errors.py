"""Input errors that name the file and line, so users can fix them without a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input (a file or an option). Printed as `file:line: message`, exit status 2."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, hint: str = ""):
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.message + (f" ({self.hint})" if self.hint else "")
