"""Entities as JSON with `$select` and `$expand` applied, and collections with their links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.sta import entities as ent
from dashboard.sta.collection import Page, entity_page, observation_page
from dashboard.sta.entities import Entity
from dashboard.sta.odata import QueryOptionError
from dashboard.sta.options import Options
from dashboard.sta.source import Source


@dataclass(frozen=True)
class Renderer:
    """Renders entities of one request's source under the service's base URL."""

    source: Source
    base: str

    def page(
        self, entity_set: str, items: list[Entity] | None, of: Entity | None, options: Options
    ) -> Page:
        """A page of a set: Observations of `of` (or of all series), else of `items`."""
        if entity_set == "Observations":
            series = self.source.observed_series(of)
            return observation_page(self.source.context.reader.store, series, options)
        return entity_page(items if items is not None else self.source.all(entity_set), options)

    def entity(self, entity: Entity, options: Options) -> dict[str, Any]:
        """One entity with its expansions, restricted to `$select`."""
        self.source.saw(entity)
        out = ent.render(entity, self.base)
        navigation = ent.NAVIGATION[entity.set]
        for nav, sub in options.expand.items():
            if nav not in navigation:
                raise QueryOptionError(
                    f"$expand: {entity.set} has no navigation property {nav!r} "
                    f"({', '.join(navigation)})"
                )
            target, many = navigation[nav]
            link = out[f"{nav}@iot.navigationLink"]
            if many:
                page = self.page(
                    target,
                    None if target == "Observations" else self.source.related(entity, nav),
                    entity,
                    sub,
                )
                out[nav] = [self.entity(e, sub) for e in page.items]
                if page.count is not None:
                    out[f"{nav}@iot.count"] = page.count
                if page.more and sub.top > 0:
                    out[f"{nav}@iot.nextLink"] = f"{link}?$top={sub.top}&$skip={sub.skip + sub.top}"
            else:
                found = self.source.related(entity, nav)
                out[nav] = self.entity(found[0], sub) if found else None
        if options.select:
            return self._selected(entity, out, options)
        return out

    @staticmethod
    def _selected(entity: Entity, out: dict[str, Any], options: Options) -> dict[str, Any]:
        known = {"id", "@iot.id", "@iot.selfLink", *entity.props, *ent.NAVIGATION[entity.set]}
        unknown = [s for s in options.select if s not in known]
        if unknown:
            raise QueryOptionError(
                f"$select: {entity.set} has no property {', '.join(map(repr, unknown))}"
            )
        kept: dict[str, Any] = {}
        for name in options.select:
            if name in ("id", "@iot.id"):
                kept["@iot.id"] = out["@iot.id"]
            elif name in ent.NAVIGATION[entity.set]:
                kept[f"{name}@iot.navigationLink"] = out[f"{name}@iot.navigationLink"]
            else:
                kept[name] = out[name]
        for nav in options.expand:
            for suffix in ("", "@iot.count", "@iot.nextLink"):
                if nav + suffix in out:
                    kept[nav + suffix] = out[nav + suffix]
        return kept
