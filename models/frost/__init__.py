"""Orchard frost forecast: tonight's minimum air temperature with an 80 % interval, per site.

Submodules: hourly (the hourly grid), csvio (files), features, physical (the fallback rule),
model (the quantile regressor), forecaster, decision (the frost warning), critical (apple bud
critical temperatures), persist, api and cli. Importing this package loads none of them.
"""
