"""The batch AIR: constraints of a batch of exchange transactions beside its trace."""
