"""A typed Python SDK for the starkperp API."""
