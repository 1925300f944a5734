"""Keras's progress bar (`Progbar`): the same text, bar and timings. On a terminal it redraws one
line with carriage returns; otherwise it prints only the final line of each epoch (no `\\r` spam
in log files, which Keras users complain about)."""

import sys
import time


def _format_value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _format_time_per_unit(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    if seconds > 0:
        return f"{seconds * 1e6:.0f}us/step"
    return "0s/step"


def _format_eta(seconds):
    if seconds >= 3600:
        return f"{int(seconds) // 3600}:{(int(seconds) % 3600) // 60:02d}:{int(seconds) % 60:02d}"
    if seconds >= 60:
        return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"
    return f"{int(seconds)}s"


class Progbar:
    """Progress bar for `target` steps. `verbose=1`: a bar; `verbose=2`: one line at the end."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stream=None):
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._start = time.time()
        self._last_update = 0.0
        self._first_step_time = None
        self._previous_width = 0

    def _time_per_step(self, current, now):
        if current <= 0:
            return 0.0
        if current > 1 and self._first_step_time is not None:
            return (now - self._first_step_time) / (current - 1)
        return (now - self._start) / current

    def update(self, current, values=None, finalize=None):
        """Show progress at step `current` (1-based) with `values` `[(name, value), ...]`."""
        values = values or []
        now = time.time()
        if current == 1 and self._first_step_time is None:
            self._first_step_time = now
        finalize = current >= self.target if finalize is None else finalize
        metrics = "".join(f" - {k}: {_format_value(v)}" for k, v in values)
        per_step = self._time_per_step(current, now)
        if self.verbose == 1:
            if not finalize and (now - self._last_update < self.interval or not self.dynamic):
                return
            self._last_update = now
            digits = len(str(self.target))
            done = int(self.width * current / self.target) if self.target else self.width
            bar = f"\x1b[32m{'━' * done}\x1b[0m\x1b[37m{'━' * (self.width - done)}\x1b[0m" if self.dynamic else "━" * self.width
            count = f"{current:>{digits}}/{self.target}"
            if self.dynamic:
                count = f"\x1b[1m{count}\x1b[0m"
            timing = f"{int(now - self._start)}s" if finalize else _format_eta(per_step * (self.target - current))
            line = f"{count} {bar} {timing} {_format_time_per_unit(per_step)}{metrics}"
            if self.dynamic:
                pad = max(self._previous_width - len(line), 0)
                self.stream.write("\r" + line + " " * pad)
                self._previous_width = len(line)
                if finalize:
                    self.stream.write("\n")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        elif self.verbose == 2 and finalize:
            self.stream.write(f"{current}/{self.target} - {now - self._start:.0f}s - {_format_time_per_unit(per_step)}{metrics}\n")
            self.stream.flush()
