"""Variable-order, multi-resolution sequence memory over quantised values."""

from __future__ import annotations


class SequenceMemory:
    """Remembers which symbol recently followed each context of the last 1..``max_order`` symbols.

    Every context is kept at several resolutions (the top 1..``bits`` bits of the level), so coarse
    rules generalise over noise while fine rules stay specific. A rule that has not fired within
    ``horizon`` steps is forgotten, which lets the memory follow slow regime changes.
    """

    def __init__(self, max_order: int = 6, bits: int = 3, horizon: int = 5000) -> None:
        """Store the parameters; state is created by ``reset``."""
        self.max_order = max_order
        self.bits = bits
        self.horizon = horizon
        self.reset()

    def reset(self) -> None:
        """Forget everything learned."""
        # context -> {symbol: last step it followed the context, -1: last step context was seen}
        self._table: dict[tuple[int, ...], dict[int, int]] = {}
        self._past: list[int] = []
        self._step = 0

    def __len__(self) -> int:
        """Number of contexts currently remembered."""
        return len(self._table)

    def score_and_learn(self, level: int) -> float:
        """Return the raw surprise of quantised ``level`` in [0, 1], then learn it.

        The surprise averages the share of recently seen contexts that never led to this symbol
        and the share of all (context, symbol) rules that are new; 0 means fully expected.
        """
        table = self._table
        past = self._past
        self._step += 1
        now = self._step
        stale = now - self.horizon
        never = stale - 1
        known = failed = new = rules = 0
        n = len(past)
        for res in range(self.bits, 0, -1):
            shift = self.bits - res
            sym = level >> shift
            coarse = [p >> shift for p in past]
            for k in range(n, 0, -1):
                ctx = (res, *coarse[n - k :])
                rules += 1
                nxt = table.get(ctx)
                if nxt is None or nxt[-1] < stale:
                    new += 1
                    table[ctx] = {sym: now, -1: now}
                    continue
                known += 1
                if nxt.get(sym, never) < stale:
                    failed += 1
                    new += 1
                nxt[sym] = now
                nxt[-1] = now
        past.append(level)
        if n >= self.max_order:
            del past[0]
        if now % self.horizon == 0:
            self._forget(stale)
        if rules == 0:
            return 0.0
        unforeseen = failed / known if known else 1.0
        return 0.5 * (unforeseen + new / rules)

    def _forget(self, stale: int) -> None:
        """Drop rules unused for a whole horizon so that memory stays bounded."""
        table = self._table
        for ctx in [c for c, nxt in table.items() if nxt[-1] < stale]:
            del table[ctx]
        for nxt in table.values():
            for sym in [s for s, last in nxt.items() if last < stale]:
                del nxt[sym]


class PhaseMemory:
    """Remembers which levels occurred at each hour of a period (a day, a week) in earlier periods.

    A level counts as expected at an hour of the period only if it was seen at that hour in a
    previous period within ``periods``; seeing it earlier in the same period does not count, so a
    whole unusual hour stays novel. With ``period_hours=24`` this is the hour of day; with 168 it
    is the hour of the week, which tells a quiet Sunday from a holiday on a weekday.
    """

    def __init__(self, bits: int = 3, periods: int = 28, period_hours: int = 24) -> None:
        """Store the parameters; state is created by ``reset``."""
        if period_hours < 1:
            raise ValueError("period_hours must be at least 1")
        self.bits = bits
        self.periods = periods
        self.period_hours = period_hours
        self.reset()

    def reset(self) -> None:
        """Forget everything learned."""
        # (resolution, hour of period) -> {symbol: [previous period seen, latest period seen]}
        self._table: dict[tuple[int, int], dict[int, list[int]]] = {}

    def score_and_learn(self, level: int, hour: int) -> float:
        """Share of resolutions at which ``level`` is new for this hour (hours since epoch)."""
        period, hour_of_period = divmod(hour, self.period_hours)
        oldest = period - self.periods
        missed = 0
        for res in range(self.bits, 0, -1):
            sym = level >> (self.bits - res)
            seen = self._table.setdefault((res, hour_of_period), {}).get(sym)
            if seen is None:
                missed += 1
                self._table[res, hour_of_period][sym] = [oldest - 1, period]
                continue
            earlier = seen[1] if seen[1] < period else seen[0]
            if earlier < oldest:
                missed += 1
            if seen[1] != period:
                seen[0], seen[1] = seen[1], period
        return missed / self.bits
