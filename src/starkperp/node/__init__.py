"""The running node: wiring, durable log, batcher, prover workers, L1 submitter."""
