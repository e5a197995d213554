"""Curated notebooks: their metadata, the headless runner, its report, and lint."""
