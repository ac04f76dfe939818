"""The one client that deploys the L1 contracts and talks to them.

By default it runs titanoboa's embedded py-evm (a fresh, private :class:`boa.Env` per
client, so tests and simulations never share chain state); given a JSON-RPC URL it drives
any Ethereum node through ``boa.NetworkEnv`` with the accounts you add. Contract calls go
through the same titanoboa handles in both cases, each with an explicit ``sender``.

Reverts surface as :class:`~starkperp.l1.errors.L1Error` with reason ``CONTRACT_REVERTED``
and the contract's revert string in the message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boa
from eth_account import Account
from eth_account.messages import encode_defunct

from starkperp.l1.config import L1Config
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.rollup.da import DataAvailabilityPayload
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.transactions.forced_trade import ForcedTrade
from starkperp.rollup.transactions.forced_withdrawal import ForcedWithdrawal

__all__ = [
    "CONTRACTS_DIR",
    "ZERO_ADDRESS",
    "L1Client",
    "L1Deployment",
    "encode_rollup_data",
    "encode_validium_data",
    "get_deployer",
    "sign_digest",
]

CONTRACTS_DIR = Path(__file__).parent / "contracts"
ZERO_ADDRESS = "0x" + "00" * 20

_T = TypeVar("_T")


@functools.cache
def get_deployer(name: str) -> Any:
    """Return the compiled (not yet deployed) contract ``name`` (cached per process)."""
    for path in (CONTRACTS_DIR / f"{name}.vy", CONTRACTS_DIR / "generated" / f"{name}.vy"):
        if path.exists():
            return boa.load_partial(str(path))
    raise L1Error(L1Reason.NOT_DEPLOYED, f"no contract source {name}.vy")


def sign_digest(private_key: bytes | str, digest: bytes) -> bytes:
    """Return the 65-byte EIP-191 signature (r || s || v) of a 32-byte digest."""
    signed = Account.sign_message(encode_defunct(primitive=bytes(digest)), private_key)
    return bytes(signed.signature)


def encode_rollup_data(payload: DataAvailabilityPayload) -> bytes:
    """Return rollup-mode ``data``: the payload's state part, then keccak256 of its audit part."""
    return payload.encode_state() + compute_keccak256(payload.encode_audit())


def encode_validium_data(signatures: Sequence[tuple[str, bytes]]) -> bytes:
    """Return validium-mode ``data``: signatures sorted by signer address, concatenated."""
    ordered = sorted(signatures, key=lambda item: int(item[0], 16))
    return b"".join(sig for _, sig in ordered)


@dataclass(frozen=True, slots=True, kw_only=True)
class L1Deployment:
    """Handles of one deployed system; ``committee`` is None in rollup mode."""

    token: Any
    rpo: Any
    perpetual: Any
    committee: Any | None
    verifier_address: str
    config: L1Config


class L1Client:
    """Deploy and drive the contracts on the embedded EVM or on a JSON-RPC node."""

    def __init__(self, env: boa.Env) -> None:
        self.env = env
        self.deployment: L1Deployment | None = None
        # Calldata of every updateState this client sent (what an archive node would return).
        self.sent_batches: list[bytes] = []

    # ------------------------------------------------------------ connection

    @staticmethod
    def embedded() -> L1Client:
        """Return a client on a fresh embedded py-evm chain."""
        return L1Client(boa.Env())

    @staticmethod
    def connect(url: str, private_keys: Sequence[bytes | str]) -> L1Client:
        """Return a client on the JSON-RPC node at ``url``, sending from the given keys."""
        from boa.network import NetworkEnv
        from boa.rpc import EthereumRPC

        if not private_keys:
            raise L1Error(L1Reason.NO_RPC_ACCOUNT, "a JSON-RPC client needs an account")
        env = NetworkEnv(EthereumRPC(url))
        for key in private_keys:
            env.add_account(Account.from_key(key), force_eoa=True)
        return L1Client(env)

    @property
    def is_embedded(self) -> bool:
        """Return whether this client runs the embedded py-evm."""
        from boa.network import NetworkEnv

        return not isinstance(self.env, NetworkEnv)

    def new_account(self) -> str:
        """Return a fresh funded address (embedded chain only)."""
        address = str(self.env.generate_address())
        self.env.set_balance(address, 10**21)
        return address

    def get_timestamp(self) -> int:
        """Return the timestamp of the pending (embedded) or latest (JSON-RPC) block."""
        if self.is_embedded:
            return int(self.env.timestamp)
        block = self.env._rpc.fetch("eth_getBlockByNumber", ["latest", False])  # type: ignore[attr-defined]
        return int(block["timestamp"], 16)

    def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward (embedded, or a dev node such as anvil)."""
        if self.is_embedded:
            self.env.time_travel(seconds=seconds)
            return
        rpc = self.env._rpc  # type: ignore[attr-defined]
        rpc.fetch("evm_increaseTime", [hex(seconds)])
        rpc.fetch("evm_mine", [])

    # ------------------------------------------------------------ deployment

    def deploy(
        self,
        *,
        config: L1Config,
        initial_state_hash: bytes,
        operator: str,
        deployer: str,
        verifier: str = ZERO_ADDRESS,
        committee_members: Sequence[str] = (),
    ) -> L1Deployment:
        """Deploy token, RPO hasher, (committee) and ``StarkPerpetual``; return the handles.

        ``verifier`` is the StarkVerifier fact registry; until one is deployed the zero
        address makes every ``updateState`` revert (nothing is accepted unverified).
        """
        if config.validium and len(committee_members) < config.committee_threshold:
            raise L1Error(L1Reason.BAD_CONFIG, "fewer committee members than the threshold")
        token = self._deploy("CollateralToken", "USD Coin", "USDC", sender=deployer)
        rpo = self._deploy("RpoMerkle", sender=deployer)
        committee = None
        if config.validium:
            committee = self._deploy(
                "Committee", list(committee_members), config.committee_threshold, sender=deployer
            )
        perpetual = self._deploy(
            "StarkPerpetual",
            token.address,
            verifier,
            committee.address if committee is not None else ZERO_ADDRESS,
            rpo.address,
            operator,
            bytes(initial_state_hash),
            config.tree_depth,
            config.n_assets,
            config.grace_period,
            config.deposit_cancel_delay,
            config.config_delay,
            sender=deployer,
        )
        self.deployment = L1Deployment(
            token=token,
            rpo=rpo,
            perpetual=perpetual,
            committee=committee,
            verifier_address=verifier,
            config=config,
        )
        return self.deployment

    def _deploy(self, name: str, *args: Any, sender: str) -> Any:
        return self.transact(lambda: get_deployer(name).deploy(*args, env=self.env, sender=sender))

    @property
    def system(self) -> L1Deployment:
        """Return the deployment (raises if :meth:`deploy` was not called)."""
        if self.deployment is None:
            raise L1Error(L1Reason.NOT_DEPLOYED, "call deploy() first")
        return self.deployment

    def transact(self, action: Callable[[], _T]) -> _T:
        """Run a contract interaction, turning a revert into ``L1Error``."""
        try:
            return action()
        except boa.BoaError as exc:
            raise L1Error(L1Reason.CONTRACT_REVERTED, _revert_reason(exc)) from exc

    # ------------------------------------------------------------ token and users

    def mint(self, to: str, amount: int, *, sender: str) -> None:
        """Mint collateral (local chains; ``sender`` must be the token's minter)."""
        self.transact(lambda: self.system.token.mint(to, amount, sender=sender))

    def get_token_balance(self, owner: str) -> int:
        """Return the collateral token balance of ``owner``."""
        return int(self.system.token.balanceOf(owner))

    def get_registration_digest(self, eth_key: str, stark_key: int) -> bytes:
        """Return the digest the operator signs to register ``stark_key`` for ``eth_key``."""
        return bytes(self.system.perpetual.registrationDigest(eth_key, stark_key))

    def register_user(
        self, *, eth_key: str, stark_key: int, operator_key: bytes | str, sender: str
    ) -> None:
        """Register ``stark_key`` for ``eth_key`` with the operator's attestation."""
        signature = sign_digest(operator_key, self.get_registration_digest(eth_key, stark_key))
        self.transact(
            lambda: self.system.perpetual.registerUser(eth_key, stark_key, signature, sender=sender)
        )

    # ------------------------------------------------------------ deposits and withdrawals

    def deposit(self, *, stark_key: int, position_id: int, amount: int, sender: str) -> None:
        """Approve and deposit ``amount`` collateral quanta to a position's pending deposit."""
        perpetual = self.system.perpetual
        self.transact(lambda: self.system.token.approve(perpetual.address, amount, sender=sender))
        self.transact(lambda: perpetual.deposit(stark_key, position_id, amount, sender=sender))

    def get_pending_deposit(self, stark_key: int, position_id: int) -> int:
        """Return the pending (not yet settled) deposit of a position."""
        return int(self.system.perpetual.pendingDeposits(stark_key, position_id))

    def deposit_cancel(self, *, stark_key: int, position_id: int, sender: str) -> None:
        """Start the cancellation of a pending deposit."""
        self.transact(
            lambda: self.system.perpetual.depositCancel(stark_key, position_id, sender=sender)
        )

    def deposit_reclaim(self, *, stark_key: int, position_id: int, sender: str) -> None:
        """Take back a cancelled pending deposit after the cancellation delay."""
        self.transact(
            lambda: self.system.perpetual.depositReclaim(stark_key, position_id, sender=sender)
        )

    def get_pending_withdrawal(self, recipient: str) -> int:
        """Return the collateral credited to ``recipient`` and not yet withdrawn."""
        return int(self.system.perpetual.pendingWithdrawals(recipient))

    def withdraw(self, *, sender: str) -> None:
        """Pay ``sender`` everything batches and escapes credited to it."""
        self.transact(lambda: self.system.perpetual.withdraw(sender=sender))

    # ------------------------------------------------------------ forced requests, freeze

    def forced_withdrawal_request(self, *, request: ForcedWithdrawal, sender: str) -> bytes:
        """File a forced withdrawal (to ``sender``, its recipient); return its request id."""
        perpetual = self.system.perpetual
        self.transact(
            lambda: perpetual.forcedWithdrawalRequest(
                request.position_id, request.public_key, request.amount, sender=sender
            )
        )
        return bytes(
            perpetual.forcedWithdrawalId(
                request.position_id, request.public_key, request.amount, sender
            )
        )

    def get_forced_trade_id(self, request: ForcedTrade) -> bytes:
        """Return the request id of a forced trade (what party B signs on L1)."""
        return bytes(self.system.perpetual.forcedTradeId(_forced_trade_struct(request)))

    def forced_trade_request(
        self, *, request: ForcedTrade, signature_b: bytes, sender: str
    ) -> bytes:
        """File a forced trade that party B signed; return its request id."""
        self.transact(
            lambda: self.system.perpetual.forcedTradeRequest(
                _forced_trade_struct(request), signature_b, sender=sender
            )
        )
        return self.get_forced_trade_id(request)

    def get_request_time(self, request_id: bytes) -> int:
        """Return when a forced request was filed (0 if none pending)."""
        return int(self.system.perpetual.forcedRequestTime(request_id))

    def freeze(self, *, request_id: bytes, sender: str) -> None:
        """Freeze the exchange over a request that outlived the grace period."""
        self.transact(lambda: self.system.perpetual.freeze(request_id, sender=sender))

    def is_frozen(self) -> bool:
        """Return whether the exchange is frozen."""
        return bool(self.system.perpetual.frozen())

    # ------------------------------------------------------------ configuration

    def propose_config(self, *, key: bytes, value: bytes, sender: str) -> None:
        """Propose a configuration hash; it applies after the configuration delay."""
        self.transact(lambda: self.system.perpetual.proposeConfig(key, value, sender=sender))

    def apply_config(self, *, key: bytes, sender: str) -> None:
        """Apply a proposed configuration hash once its delay has passed."""
        self.transact(lambda: self.system.perpetual.applyConfig(key, sender=sender))

    def get_config(self, key: bytes) -> bytes:
        """Return the active configuration hash under ``key``."""
        return bytes(self.system.perpetual.configHash(key))

    # ------------------------------------------------------------ state

    def get_state_hash(self) -> bytes:
        """Return the shared-state hash L1 stores."""
        return bytes(self.system.perpetual.sharedStateHash())

    def get_batch_id(self) -> int:
        """Return the id the next batch must carry."""
        return int(self.system.perpetual.batchId())

    def update_state(self, *, proof: bytes, public_input: bytes, data: bytes, sender: str) -> None:
        """Submit a batch: ``proof`` (empty if verified in earlier steps), the encoded public
        input and the data (rollup: :func:`encode_rollup_data`; validium:
        :func:`encode_validium_data`)."""
        perpetual = self.system.perpetual
        self.transact(lambda: perpetual.updateState(proof, public_input, data, sender=sender))
        self.sent_batches.append(
            bytes(perpetual.updateState.prepare_calldata(proof, public_input, data))
        )

    def verify_proof_in_steps(
        self,
        *,
        verifier: Any,
        air: Any,
        options: Any,
        proof: bytes,
        public_inputs: Sequence[int],
        sender: str,
    ) -> list[Any]:
        """Verify ``proof`` in several transactions (Merkle statements, then the rest) on the
        contracts of ``verifier_gen.deploy_verifier_contracts``; return each step's gas.

        Then :meth:`update_state` with an empty proof settles the batch on the fact
        registered by the last step. Every step stays under the 2^24 gas cap.
        """
        from starkperp.l1.split import verify_proof_in_steps

        return self.transact(
            lambda: verify_proof_in_steps(
                verifier.core,
                verifier.merkle,
                air=air,
                options=options,
                proof=proof,
                public_inputs=public_inputs,
                sender=sender,
            )
        )

    def get_availability_claim(
        self, *, batch_id: int, new_state_hash: bytes, da_hash: bytes
    ) -> bytes:
        """Return the claim committee members sign for a batch (validium)."""
        committee = self.system.committee
        if committee is None:
            raise L1Error(L1Reason.BAD_CONFIG, "rollup mode has no committee")
        return bytes(
            committee.claimHash(self.system.perpetual.address, batch_id, new_state_hash, da_hash)
        )

    # ------------------------------------------------------------ escape

    def set_escape_state(self, *, shared_state: bytes, sender: str) -> None:
        """Publish the frozen shared state's preimage so positions can escape."""
        self.transact(lambda: self.system.perpetual.setEscapeState(shared_state, sender=sender))

    def escape(self, *, proof: EscapeProofArgs, sender: str) -> None:
        """Escape one position of the frozen state (credit its value to the owner)."""
        self.transact(lambda: self.system.perpetual.escape(*proof.as_args(), sender=sender))


def _revert_reason(exc: Exception) -> str:
    # The deepest frame of titanoboa's stack trace holds the revert string; formatting the
    # whole trace can itself fail on unusual arguments, so it is only the fallback.
    trace = getattr(exc, "stack_trace", None)
    if trace:
        reason = getattr(trace[-1], "pretty_vm_reason", None)
        if reason:
            return str(reason)
    try:
        text = str(exc)
    except Exception:
        return type(exc).__name__
    return next((line.strip() for line in text.splitlines() if line.strip()), "reverted")


def _forced_trade_struct(
    t: ForcedTrade,
) -> tuple[int, int, int, int, int, int, int, bool, int, int]:
    return (
        int(t.position_a),
        int(t.public_key_a),
        int(t.position_b),
        int(t.public_key_b),
        int(t.synthetic_asset_id),
        int(t.amount_collateral),
        int(t.amount_synthetic),
        bool(t.is_party_a_buying_synthetic),
        int(t.nonce),
        int(t.expiration_hours),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EscapeProofArgs:
    """One position of the frozen state with its RPO Merkle path (``escape``'s arguments)."""

    position_id: int
    stark_key: int
    collateral: int
    balances: tuple[int, ...]
    cached_funding_indices: tuple[int, ...]
    siblings: tuple[tuple[int, int, int, int], ...]

    def as_args(
        self,
    ) -> tuple[int, int, int, list[int], list[int], list[list[int]]]:
        """Return the contract arguments in order."""
        return (
            self.position_id,
            self.stark_key,
            self.collateral,
            list(self.balances),
            list(self.cached_funding_indices),
            [list(s) for s in self.siblings],
        )
