"""Readers: files of every supported format -> Sentences (a registry by format name)."""
