"""Chat sessions and messages (domain issue)."""
