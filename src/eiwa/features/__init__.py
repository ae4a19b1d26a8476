"""Token features: one file per input (its Feature, its nn.Module, its settings), the registry and the Encoder."""
