"""Training: the loop, checkpoints, optimizers, data-parallel processes."""
