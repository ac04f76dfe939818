"""The rollup: state trees, transactions, batch execution, the batch AIR, sequencing."""
