"""Transfer: moving modules of a source model into a target, label maps, the JMdict word bridge."""
