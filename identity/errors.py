"""`IdentityError`: the root of the device registry's and the broker control's errors."""

from __future__ import annotations

from core.errors import ShinshuError


class IdentityError(ShinshuError):
    """An account, the registry or the broker's account list cannot do what was asked."""
