"""External resources read from installed packages: chiVe vectors, JMdict, UPOS tables."""
