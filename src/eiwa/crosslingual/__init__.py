"""Cross-lingual transfer: moving modules of a source model into a target, label maps, the JMdict word bridge.

(Named so that `eiwa.transfer`, the function, is not shadowed by a subpackage of the same name.)
"""
