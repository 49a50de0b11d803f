"""An export described as linked data: a DCAT `dcat:Dataset` with DataCite-style properties.

DCAT terms follow the W3C recommendation "Data Catalog Vocabulary (DCAT) - Version 3" (2024):
`dct:temporal` as a `dct:PeriodOfTime` with `dcat:startDate`/`dcat:endDate`, `dcat:spatial` as a
`dct:Location` with `dcat:bbox` and `dcat:centroid` (GeoSPARQL WKT, longitude first), and each
`dcat:Distribution` with `dcat:mediaType`, `dcat:byteSize` and an `spdx:checksum`. The
`datacite` member holds the DataCite Metadata Schema 4 properties (creators, titles, publisher,
publicationYear, types, dates, rightsList, geoLocations, sizes, formats) as a JSON literal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.time import from_ms, iso_utc
from storage.export.provenance import Place
from storage.export.selection import Description

MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
    # JSON-LD 1.1: the DataCite record is kept as one JSON value, not turned into triples.
    "datacite": {"@id": "https://schema.datacite.org/meta/kernel-4/", "@type": "@json"},
}
_IANA = "https://www.iana.org/assignments/media-types/"
_SPDX_LICENCES = "https://spdx.org/licenses/"


@dataclass(frozen=True, slots=True)
class Distribution:
    """One file of an export: its name and media type; size and SHA-256 once it is written."""

    name: str
    media_type: str
    byte_size: int | None = None
    sha256: str | None = None
    url: str | None = None


def file_distribution(path: Path, media_type: str) -> Distribution:
    """The distribution of a written file, with its size and checksum (read in chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return Distribution(path.name, media_type, path.stat().st_size, digest.hexdigest())


def _wkt(text: str) -> dict[str, str]:
    return {"@value": text, "@type": "gsp:wktLiteral"}


def _licence(licence: str) -> dict[str, str]:
    """A licence as a URI: an SPDX id (CC-BY-4.0) becomes its SPDX page."""
    if "://" in licence:
        return {"@id": licence}
    if " " not in licence.strip():
        return {"@id": _SPDX_LICENCES + licence.strip()}
    return {"@value": licence}


def _spatial(places: dict[str, Place]) -> list[dict[str, Any]]:
    """A bounding box of every site and each site's point; nothing if none is registered."""
    if not places:
        return []
    lats = [p.latitude for p in places.values()]
    lons = [p.longitude for p in places.values()]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    box = (
        f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"
    )
    out: list[dict[str, Any]] = [
        {
            "@type": "dct:Location",
            "dcat:bbox": _wkt(box),
            "dcat:centroid": _wkt(f"POINT({(west + east) / 2} {(south + north) / 2})"),
        }
    ]
    out += [
        {
            "@type": "dct:Location",
            "dct:identifier": site,
            "dcat:centroid": _wkt(f"POINT({p.longitude} {p.latitude})"),
        }
        for site, p in sorted(places.items())
    ]
    return out


def _distribution(item: Distribution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@type": "dcat:Distribution",
        "dct:title": item.name,
        "dcat:mediaType": {"@id": _IANA + item.media_type},
    }
    if item.url is not None:
        out["dcat:downloadURL"] = {"@id": item.url}
    if item.byte_size is not None:
        out["dcat:byteSize"] = {"@value": str(item.byte_size), "@type": "xsd:nonNegativeInteger"}
    if item.sha256 is not None:
        out["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
            "spdx:checksumValue": item.sha256,
        }
    return out


def _datacite(
    description: Description, places: dict[str, Place], files: Sequence[Distribution]
) -> dict[str, Any]:
    """The DataCite Metadata Schema 4 properties of the export."""
    selection, publication = description.selection, description.publication
    organisation = {"name": publication.publisher, "nameType": "Organizational"}
    locations: list[dict[str, Any]] = [
        {
            "geoLocationPlace": site,
            "geoLocationPoint": {"pointLatitude": p.latitude, "pointLongitude": p.longitude},
        }
        for site, p in sorted(places.items())
    ]
    if places:
        lats = [p.latitude for p in places.values()]
        lons = [p.longitude for p in places.values()]
        locations.append(
            {
                "geoLocationBox": {
                    "westBoundLongitude": min(lons),
                    "eastBoundLongitude": max(lons),
                    "southBoundLatitude": min(lats),
                    "northBoundLatitude": max(lats),
                }
            }
        )
    return {
        "identifiers": [{"identifier": selection.dataset_id, "identifierType": "Local"}],
        "creators": [organisation],
        "titles": [{"title": publication.title}],
        "publisher": {"name": publication.publisher},
        "publicationYear": str(from_ms(selection.end_ms - 1).year),
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Sensor readings"},
        "subjects": [{"subject": kind.value} for kind in description.kinds],
        "dates": [
            {
                "date": f"{iso_utc(selection.start_ms)}/{iso_utc(selection.end_ms)}",
                "dateType": "Collected",
            }
        ],
        "rightsList": [{"rights": publication.licence, "rightsIdentifier": publication.licence}],
        "geoLocations": locations,
        "sizes": [f"{f.byte_size} bytes" for f in files if f.byte_size is not None],
        "formats": [f.media_type for f in files],
        "descriptions": [{"description": description.citation, "descriptionType": "Other"}],
    }


def dataset_jsonld(
    description: Description, places: dict[str, Place], files: Sequence[Distribution]
) -> dict[str, Any]:
    """The JSON-LD document of an export of `files`, over the sites' `places`."""
    selection, publication = description.selection, description.publication
    organisation = {"@type": "foaf:Organization", "foaf:name": publication.publisher}
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": f"urn:shinshu:dataset:{selection.dataset_id}",
        "@type": "dcat:Dataset",
        "dct:identifier": selection.dataset_id,
        "dct:title": publication.title,
        "dct:description": description.citation,
        "dct:bibliographicCitation": description.citation,
        "dct:license": _licence(publication.licence),
        "dct:creator": organisation,
        "dct:publisher": organisation,
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": iso_utc(selection.start_ms), "@type": "xsd:dateTime"},
            "dcat:endDate": {"@value": iso_utc(selection.end_ms), "@type": "xsd:dateTime"},
        },
        "dcat:keyword": [kind.value for kind in description.kinds],
        "dcat:distribution": [_distribution(f) for f in files],
        "datacite": _datacite(description, places, files),
    }
    spatial = _spatial({s: p for s, p in places.items() if s in description.sites})
    if spatial:
        doc["dcat:spatial"] = spatial
    return doc
