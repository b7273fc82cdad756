"""What each field does: authorization, validation, the request lifecycle, audit. One module per domain."""
