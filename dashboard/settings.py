"""Where the API settings used to live; they are `core.settings`'s now."""

from __future__ import annotations

from core.settings import API_PREFIX, ApiSettings, ApiSettingsError, load_api_settings

# DashboardError was first defined here.
from dashboard.errors import DashboardError

__all__ = ["API_PREFIX", "ApiSettings", "ApiSettingsError", "DashboardError", "load_api_settings"]
