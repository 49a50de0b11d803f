"""What an export covers (tenant, sites, kinds, time range), its stable id and its citation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from core.time import from_ms, iso_utc
from edge.protocol import SensorKind
from storage.catalogue import SeriesKey
from storage.readings import Reader


@dataclass(frozen=True, slots=True)
class Selection:
    """What an export covers; an empty `sites` means every site of the tenant."""

    tenant: str
    sites: list[str]
    kinds: list[SensorKind]
    start_ms: int
    end_ms: int

    @property
    def dataset_id(self) -> str:
        """A stable id: the same selection always gets the same id."""
        canonical = json.dumps(
            [self.tenant, sorted(self.sites), sorted(self.kinds), self.start_ms, self.end_ms]
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Publication:
    """Who publishes the readings, under which title and licence (the API's settings)."""

    title: str
    publisher: str
    licence: str


@dataclass(frozen=True, slots=True)
class Description:
    """An export's selection with what it holds: its sites, kinds, series and citation."""

    selection: Selection
    publication: Publication
    sites: list[str]
    kinds: list[SensorKind]
    # Each series with the spacing (ms) of its first two readings in range, None if fewer.
    spacing: dict[SeriesKey, int | None]

    @property
    def citation(self) -> str:
        """A stable citation string of the selection."""
        selection, publication = self.selection, self.publication
        year = from_ms(selection.end_ms - 1).year
        return (
            f"{publication.publisher} ({year}). {publication.title}, tenant {selection.tenant}, "
            f"sites {', '.join(self.sites) or 'none'}; "
            f"{', '.join(k.value for k in self.kinds) or 'no sensors'}; "
            f"{iso_utc(selection.start_ms)} to {iso_utc(selection.end_ms)} [Data set]. "
            f"Licence: {publication.licence}. Dataset id {selection.dataset_id}."
        )


def describe(reader: Reader, selection: Selection, publication: Publication) -> Description:
    """What the selection holds in the store, as one cheap read (two readings per series)."""
    spacing = reader.first_spacing(
        selection.tenant,
        sites=selection.sites,
        kinds=selection.kinds,
        start_ms=selection.start_ms,
        end_ms=selection.end_ms,
    )
    sites = selection.sites or sorted({k.site for k in spacing})
    kinds = sorted({k.kind for k in spacing})
    return Description(selection, publication, sites, kinds, spacing)
