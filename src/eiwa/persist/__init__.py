"""Crash-safe files (atomic.py) and model directories: their checks (model_dir.py) and older formats (migrations.py)."""
