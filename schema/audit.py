"""Audit records (domain issue)."""
