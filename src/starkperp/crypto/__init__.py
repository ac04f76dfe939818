"""Hashes and signatures: keccak256, RPO, Pedersen and STARK-curve ECDSA."""
