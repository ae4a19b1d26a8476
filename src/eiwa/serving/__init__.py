"""Serving predictions: typed records, writers, the HTTP server, the spaCy component, model cards."""
