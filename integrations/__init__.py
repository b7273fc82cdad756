"""The outside world behind small interfaces: auth (JWT/OIDC), storage, email, AI."""
