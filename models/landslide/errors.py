"""The landslide model's errors, with messages in Japanese and English."""

from __future__ import annotations


def bilingual(ja: str, en: str) -> str:
    """One message in both languages: Japanese first, then English."""
    return f"{ja} / {en}"


class LandslideError(ValueError):
    """Bad input or parameters for the landslide model; the message is bilingual.

    `where` (a file, a file and line) prefixes both languages once.
    """

    def __init__(self, ja: str, en: str, *, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(prefix + bilingual(ja, en))
        self.ja = ja
        self.en = en
        self.where = where

    def at(self, where: str) -> LandslideError:
        """The same error located in `where` (a file name, say)."""
        return LandslideError(self.ja, self.en, where=where)
