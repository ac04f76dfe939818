"""Proposals, voting, timelocks, emergency powers and the operator set."""
