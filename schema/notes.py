"""Internal notes on customers (domain issue)."""
