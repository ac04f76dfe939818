"""starkperp: a perpetual-futures exchange as a STARK-proven Layer 2 on an EVM Layer 1."""

__version__ = "0.1.0"
__all__ = ["__version__"]
