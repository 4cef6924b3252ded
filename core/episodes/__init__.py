"""Hypoglycemia episodes: the pure detector (detect.py) and the per-participant cache (store.py)."""
