"""Fixtures of the L1 tests: a fresh embedded chain with the contracts deployed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account

from starkperp.l1.client import L1Client
from starkperp.l1.config import L1Config, get_preset

GENESIS_HASH = b"\x11" * 32


@dataclass
class Actors:
    """Addresses (and keys where a signature is needed) of the test's participants."""

    deployer: str
    operator: str
    operator_key: bytes
    alice: str
    alice_key: bytes
    bob: str
    bob_key: bytes
    stranger: str


def make_actors(client: L1Client) -> Actors:
    operator = Account.create()
    alice = Account.create()
    bob = Account.create()
    return Actors(
        deployer=client.new_account(),
        operator=operator.address,
        operator_key=bytes(operator.key),
        alice=alice.address,
        alice_key=bytes(alice.key),
        bob=bob.address,
        bob_key=bytes(bob.key),
        stranger=client.new_account(),
    )


def deploy(
    config: L1Config, initial_state_hash: bytes = GENESIS_HASH, members: tuple[str, ...] = ()
) -> tuple[L1Client, Actors]:
    client = L1Client.embedded()
    actors = make_actors(client)
    client.deploy(
        config=config,
        initial_state_hash=initial_state_hash,
        operator=actors.operator,
        deployer=actors.deployer,
        committee_members=members,
    )
    return client, actors


@pytest.fixture
def system() -> tuple[L1Client, Actors]:
    return deploy(get_preset("minimal"))
