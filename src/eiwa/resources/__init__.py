"""External resources read from installed packages (chiVe vectors, JMdict, UPOS tables), and the
cache of what eiwa compiles from them."""
