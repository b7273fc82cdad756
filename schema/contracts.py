"""Uploaded contracts (read side; uploads come with their own issue)."""
