"""Moved to `storage/`; the modules here re-export their new homes for old callers."""
