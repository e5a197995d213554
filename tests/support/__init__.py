"""Helpers that drive a real gemhub hub over HTTP, shared by tests and benchmarks."""
