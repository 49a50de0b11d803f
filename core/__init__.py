"""What every server package shares: errors, settings, time, retry, signals, caches, metrics.

Nothing is imported eagerly: `core.errors` must load with the standard library alone, because
the `shinshu` command line (which a Pi with only the agent installed also runs) uses it.
"""
