"""Goldilocks field arithmetic, its quadratic extension, NTT and polynomials."""
