"""Support requests and their lifecycle (domain issue)."""
