"""Command line and settings shared by every service."""
