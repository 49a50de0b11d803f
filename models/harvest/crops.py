"""Crops the harvest model knows agronomically, and their harvest windows (no numerical
dependencies, so the registry's checks can name the crops without loading scikit-learn)."""

from __future__ import annotations

from enum import StrEnum


class KnownCrop(StrEnum):
    """Crops with an agronomic harvest window after maturity; others get the default."""

    LETTUCE = "lettuce"
    RICE = "rice"
    APPLE = "apple"


# Days after maturity a crop can still be harvested at good quality: lettuce heads burst,
# rice shatters and cracks, apples keep on the tree for a couple of weeks.
WINDOW_DAYS: dict[KnownCrop, int] = {KnownCrop.LETTUCE: 4, KnownCrop.RICE: 10, KnownCrop.APPLE: 14}
DEFAULT_WINDOW_DAYS = 7
