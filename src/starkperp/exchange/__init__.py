"""The perpetual exchange: markets, orders, matching, positions, risk, funding, liquidation."""
