"""The one client that deploys the L1 contracts and talks to them.

By default it runs titanoboa's embedded py-evm (a fresh, private :class:`boa.Env` per
client, so tests and simulations never share chain state); given a JSON-RPC URL it drives
any Ethereum node through ``boa.NetworkEnv`` with the accounts you add. Contract calls go
through the same titanoboa handles in both cases, each with an explicit ``sender``; on
JSON-RPC, contract creations and ``updateState`` are signed and sent directly
(:meth:`L1Client.send_raw`), without titanoboa's local simulation of each transaction.

Reverts surface as :class:`~starkperp.l1.errors.L1Error` with reason ``CONTRACT_REVERTED``
and the contract's revert string in the message.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boa
from boa.network import NetworkEnv
from boa.rpc import EthereumRPC
from boa.util.abi import abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from vyper.compiler.output import build_abi_output

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
    "get_deployment_record",
    "encode_rollup_data",
    "encode_validium_data",
    "get_deployer",
    "sign_digest",
]

CONTRACTS_DIR = Path(__file__).parent / "contracts"
_RECEIPT_TIMEOUT = 600.0
_TX_GAS_CAP = 2**24
"""The per-transaction gas cap (EIP-7825); a 20 % estimate margin never goes above it."""
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
        self.last_receipt: dict[str, Any] | None = None
        """The receipt of the last transaction this client mined (JSON-RPC only)."""

    # ------------------------------------------------------------ connection

    @staticmethod
    def embedded() -> L1Client:
        """Return a client on a fresh embedded py-evm chain."""
        return L1Client(boa.Env())

    @staticmethod
    def connect(url: str, private_keys: Sequence[bytes | str]) -> L1Client:
        """Return a client on the JSON-RPC node at ``url``, sending from the given keys."""
        if not private_keys:
            raise L1Error(L1Reason.NO_RPC_ACCOUNT, "a JSON-RPC client needs an account")
        env = _UncachedNetworkEnv(EthereumRPC(url))
        for key in private_keys:
            env.add_account(Account.from_key(key), force_eoa=True)
        client = L1Client(env)
        send: Callable[..., Any] = env._send_txn

        # titanoboa keeps the receipt to itself; its gas is what the node reports per batch
        def send_and_keep_receipt(*args: Any, **kwargs: Any) -> Any:
            tx_data, receipt, trace = send(*args, **kwargs)
            client.last_receipt = dict(receipt)
            return tx_data, receipt, trace

        env._send_txn = send_and_keep_receipt  # type: ignore[method-assign]
        return client

    @property
    def is_embedded(self) -> bool:
        """Return whether this client runs the embedded py-evm."""
        return not isinstance(self.env, NetworkEnv)

    def _rpc_fetch(self, method: str, params: list[Any]) -> Any:
        # transport errors (requests, boa.rpc.RPCError) propagate: the caller retries
        if self.is_embedded:
            raise L1Error(L1Reason.BAD_CONFIG, f"{method} needs a JSON-RPC chain")
        return self.env._rpc.fetch(method, params)  # type: ignore[attr-defined]

    def get_chain_id(self) -> int:
        """Return the chain id (the embedded chain's is titanoboa's)."""
        if self.is_embedded:
            return int(self.env.evm.vm.chain_context.chain_id)
        return int(self._rpc_fetch("eth_chainId", []), 16)

    def get_block_number(self) -> int:
        """Return the number of the latest block (JSON-RPC)."""
        return int(self._rpc_fetch("eth_blockNumber", []), 16)

    def get_logs(
        self, *, address: str, topic0: int, from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        """Return ``eth_getLogs`` of ``address`` with ``topic0`` in blocks [from, to]."""
        query = {
            "address": address,
            "topics": ["0x" + topic0.to_bytes(32, "big").hex()],
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        return list(self._rpc_fetch("eth_getLogs", [query]))

    def has_code(self, address: str) -> bool:
        """Return whether a contract is deployed at ``address``."""
        return len(self.env.get_code(address)) > 0

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

    def attach(self, record: dict[str, Any]) -> L1Deployment:
        """Attach to a deployment on this chain from its :func:`get_deployment_record`."""
        if record.get("committee"):
            raise L1Error(L1Reason.BAD_CONFIG, "attaching to a validium deployment")
        for name in ("token", "rpo", "perpetual"):
            if not self.has_code(record[name]):
                raise L1Error(L1Reason.NOT_DEPLOYED, f"no contract at {name} {record[name]}")
        with boa.swap_env(self.env):
            token = get_deployer("CollateralToken").at(record["token"])
            rpo = get_deployer("RpoMerkle").at(record["rpo"])
            perpetual = get_deployer("StarkPerpetual").at(record["perpetual"])
        self.deployment = L1Deployment(
            token=token,
            rpo=rpo,
            perpetual=perpetual,
            committee=None,
            verifier_address=str(record["verifier"]),
            config=L1Config(**record["config"]),
        )
        return self.deployment

    def _deploy(self, name: str, *args: Any, sender: str) -> Any:
        deployer = get_deployer(name)
        if self.is_embedded:
            return self.transact(lambda: deployer.deploy(*args, env=self.env, sender=sender))
        abi: list[dict[str, Any]] = build_abi_output(deployer.compiler_data)
        inputs: list[dict[str, Any]] = next(
            (e["inputs"] for e in abi if e["type"] == "constructor"), []
        )
        schema = "(" + ",".join(i["type"] for i in inputs) + ")"
        code = bytes(deployer.compiler_data.bytecode) + abi_encode(schema, args)
        address = self.create(code, sender=sender)
        with boa.swap_env(self.env):
            return deployer.at(address)

    def create(self, initcode: bytes, *, sender: str) -> str:
        """Deploy raw creation code (constructor arguments appended); return its address."""
        if self.is_embedded:
            address, computation = self.transact(
                lambda: self.env.deploy(sender=sender, bytecode=initcode)
            )
            if computation.is_error:
                raise L1Error(L1Reason.CONTRACT_REVERTED, "contract creation reverted")
            return str(address)
        return str(self.send_raw(to=None, data=initcode, sender=sender)["contractAddress"])

    def send_raw(self, *, to: str | None, data: bytes, sender: str) -> dict[str, Any]:
        """Sign and send one transaction on a JSON-RPC chain; return its receipt.

        titanoboa runs every transaction on a local py-evm fork of the chain before sending
        it (and traces it after), which for a proof verification costs more than the chain's
        own execution; the node's large transactions (contract creations, ``updateState``)
        go this way instead: ``eth_estimateGas`` (a revert raises ``CONTRACT_REVERTED``
        with the node's message), EIP-1559 fees, the pending nonce, and the receipt.
        """
        from boa.rpc import RPCError

        account = self.env._accounts.get(sender)  # type: ignore[attr-defined]
        if account is None:
            raise L1Error(L1Reason.NO_RPC_ACCOUNT, f"no key for {sender}")
        query: dict[str, Any] = {"from": sender, "data": "0x" + bytes(data).hex()}
        if to is not None:
            query["to"] = str(to)
        try:
            gas = int(self._rpc_fetch("eth_estimateGas", [query]), 16)
        except RPCError as exc:
            raise L1Error(L1Reason.CONTRACT_REVERTED, str(exc)) from exc
        block = self._rpc_fetch("eth_getBlockByNumber", ["latest", False])
        tx: dict[str, Any] = {
            "data": bytes(data),
            "value": 0,
            "gas": min(gas + gas // 5, max(gas, _TX_GAS_CAP)),
            "nonce": int(self._rpc_fetch("eth_getTransactionCount", [sender, "pending"]), 16),
            "chainId": self.get_chain_id(),
        }
        if to is not None:
            tx["to"] = str(to)
        if block.get("baseFeePerGas") is not None:
            tip = int(self._rpc_fetch("eth_maxPriorityFeePerGas", []), 16)
            tx["maxFeePerGas"] = 2 * int(block["baseFeePerGas"], 16) + tip
            tx["maxPriorityFeePerGas"] = tip
        else:
            tx["gasPrice"] = int(self._rpc_fetch("eth_gasPrice", []), 16)
        signed = account.sign_transaction(tx)
        tx_hash = self._rpc_fetch("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        deadline = time.monotonic() + _RECEIPT_TIMEOUT
        while (receipt := self._rpc_fetch("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise L1Error(L1Reason.CONTRACT_REVERTED, f"no receipt for {tx_hash}")
            time.sleep(0.1)
        self.last_receipt = dict(receipt)
        self.env._reset_fork()  # type: ignore[attr-defined]  # titanoboa's view of the chain
        if int(receipt["status"], 16) != 1:
            raise L1Error(L1Reason.CONTRACT_REVERTED, f"transaction {tx_hash} reverted")
        return self.last_receipt

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
        calldata = bytes(perpetual.updateState.prepare_calldata(proof, public_input, data))
        if self.is_embedded:
            self.transact(lambda: perpetual.updateState(proof, public_input, data, sender=sender))
        else:
            self.send_raw(to=str(perpetual.address), data=calldata, sender=sender)
        self.sent_batches.append(calldata)

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


class _UncachedNetworkEnv(NetworkEnv):  # type: ignore[misc]
    """titanoboa's JSON-RPC environment without its on-disk RPC cache.

    titanoboa simulates every transaction on a local fork whose RPC answers it caches in an
    SQLite file per chain id, keyed by block number: a dev chain restarted from block 0
    (anvil, chain id 31337) would be answered from another run's cache, and that SQLite
    connection cannot be used from another thread (the node's settlement thread). An
    in-memory cache has neither problem.
    """

    def _reset_fork(self, block_identifier: str = "latest") -> None:
        self.fork_rpc(
            self._rpc, reset_traces=False, block_identifier=block_identifier, cache_dir=None
        )


def get_deployment_record(deployment: L1Deployment) -> dict[str, Any]:
    """Return the JSON-able addresses and settings of a deployment (see :meth:`L1Client.attach`)."""
    config = deployment.config
    return {
        "token": str(deployment.token.address),
        "rpo": str(deployment.rpo.address),
        "perpetual": str(deployment.perpetual.address),
        "committee": str(deployment.committee.address) if deployment.committee else "",
        "verifier": deployment.verifier_address,
        "config": {
            "tree_depth": config.tree_depth,
            "n_assets": config.n_assets,
            "grace_period": config.grace_period,
            "deposit_cancel_delay": config.deposit_cancel_delay,
            "config_delay": config.config_delay,
        },
    }


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
