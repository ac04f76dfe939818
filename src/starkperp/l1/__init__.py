"""Layer 1: Vyper contracts, deployment and the one client that talks to an EVM."""
