"""Shared test helpers (real databases for connection, safety and end-to-end tests)."""
