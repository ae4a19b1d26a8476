"""Crash-safe files: atomic writes, directory swaps, locks, checksums, model directories."""
