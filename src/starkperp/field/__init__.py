"""Goldilocks field arithmetic, its quadratic extension, NTT and polynomials.

Modules: ``goldilocks`` (the base field, scalars and uint64 vectors), ``ext2`` (the quadratic
extension F_p[X]/(X^2 - 7)), ``ntt`` (transforms and low-degree extension), ``poly``
(coefficient-form helpers), ``kernels`` (compiled scalar primitives for numba code) and
``errors``. See ``docs/field.md``.
"""
