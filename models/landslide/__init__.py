"""Landslide (土砂災害) risk from rain: the Soil Water Index tank model and alert levels.

The submodules are imported by name (`models.landslide.tank`, ...); this package itself imports
nothing, so that the platform's command line can name the `swi` command without numpy.
"""
