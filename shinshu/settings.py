"""Where the platform settings used to live; they are `core.settings`'s now.

Importing this module loads nothing but the error class: the other names resolve on first
use, so that the agent's command line (standard library and paho only) can import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import SettingsError

if TYPE_CHECKING:
    from core.settings import ENV_PREFIX, Settings, load_settings

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "load_settings"]


def __getattr__(name: str) -> Any:
    """`core.settings`'s names, imported when first asked for."""
    if name in __all__:
        from core import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
