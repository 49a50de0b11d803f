"""Progress of long work (backfill, training, backup, restore) for the person who started it.

On a terminal a bar is redrawn in place (with a known total) or a running line of the last step
(without one); otherwise, in a log or a pipe, every step is a plain line, so nothing depends on
carriage returns. Messages go to stderr: stdout stays for what a command answers.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30


class Progress:
    """Steps of one piece of work, shown on `stream`."""

    def __init__(
        self,
        *,
        total: int | None = None,
        unit: str = "steps",
        stream: TextIO | None = None,
    ) -> None:
        """`total` steps of `unit` (None: not known beforehand) shown on `stream` (stderr)."""
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.done_steps = 0
        self._began = time.monotonic()
        self._drawn = False

    @property
    def terminal(self) -> bool:
        """Whether the stream is a terminal: a bar in place rather than lines."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def step(self, text: str, amount: int = 1) -> None:
        """`amount` more steps done; `text` says what the last one was."""
        self.done_steps += amount
        self._show(text)

    def note(self, text: str) -> None:
        """A line that is not a step (a finding, a warning): printed, the bar redrawn after."""
        if self.terminal and self._drawn:
            self.stream.write("\r\x1b[2K")
        print(text, file=self.stream, flush=True)
        self._drawn = False

    def _show(self, text: str) -> None:
        if not self.terminal:
            print(text, file=self.stream, flush=True)
            return
        elapsed = time.monotonic() - self._began
        if self.total:
            share = min(1.0, self.done_steps / self.total)
            filled = int(share * BAR_WIDTH)
            head = (
                f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share:4.0%} "
                f"{self.done_steps}/{self.total} {self.unit}"
            )
        else:
            head = f"{self.done_steps} {self.unit}"
        # The line is cut to the terminal's usual width, so that it never wraps and stacks up.
        line = f"{head} {elapsed:5.1f} s  {text}"[:120]
        self.stream.write(f"\r\x1b[2K{line}")
        self.stream.flush()
        self._drawn = True

    def finish(self, text: str) -> None:
        """End the bar and print `text` with the time taken."""
        if self.terminal and self._drawn:
            self.stream.write("\n")
        elapsed = time.monotonic() - self._began
        print(f"{text} ({elapsed:.1f} s)", file=self.stream, flush=True)
        self._drawn = False
