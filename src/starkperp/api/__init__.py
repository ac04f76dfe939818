"""HTTP and WebSocket API in the dYdX v3 dialect."""
