"""A generic STARK: constraint DSL, trace, commitments, transcript, FRI, prover, verifier."""
