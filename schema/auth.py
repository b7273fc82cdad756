"""Login, signup, email verification (identity issue)."""
