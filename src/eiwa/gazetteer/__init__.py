"""The JMnedict name dictionary: compiled once into a cache, matched over token sequences."""
