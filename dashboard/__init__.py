"""Web API and dashboard (FastAPI)."""
