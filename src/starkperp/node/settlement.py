"""The node's settlement service: its durable log turned into batches proven and settled on L1.

:class:`SettlementService` runs beside the sequencer, in one thread of the node's process
(provers in spawned processes), in numbered stages:

1. **Translate.** Every committed log record's exchange events go through the
   :class:`~starkperp.node.bridge.EventBridge`, in log order, into one stream of rollup
   transactions. The stream is a pure function of the log, so it is the same after a restart.
2. **Batch.** A batch is a slice ``[first_tx, first_tx + n_tx)`` of that stream, closed when
   ``max_transactions`` are waiting or when the oldest waiting one is ``max_age_seconds``
   old. Its record is stored (status CLOSED) in the node's database before anything else
   happens to it, so a restart rebuilds exactly the same batches.
3. **Prove.** The batch is executed on the rollup state here and proven in a spawned worker
   (:class:`~starkperp.node.pipeline.BatchProver`); the proof is checked here with the Python
   verifier (PROVEN).
4. **Submit.** Before sending, the service reads L1's batch id: if L1 already holds this
   batch (a crash after sending, before recording) it is only marked SETTLED (after checking
   L1's state hash), never sent twice. Otherwise the record goes to SUBMITTING (with the hash
   of the ``updateState`` calldata), the call is sent, and the batch is SETTLED only if L1 then
   stores its new state hash; a revert is REJECTED with L1's reason.
5. **Deposits.** :class:`~starkperp.node.l1_watch.DepositWatcher` reads ``LogDeposit`` events
   after the cursor; each is credited through the sequencer as an ``l1_deposit`` log record
   that carries the cursor, so a credit and its cursor are durable together (exactly once).
   The batch holding the credit's rollup ``Deposit`` settles the pending amount on L1.

On start the service replays the log (stage 1), rebuilds the rollup state by re-executing the
SETTLED batches, and resumes the others from their stored boundaries. A batch the rollup, the
verifier or L1 rejects halts settlement (``halted`` says why): the L2 state has moved past what
L1 can accept, which an operator must look at; the exchange keeps serving.

With no L1 client given the service runs the embedded py-evm chain in this process and deploys
the collateral token, ``StarkPerpetual`` and the generated batch verifier at its first start.
Given ``chain_path``, that chain is a :class:`~starkperp.node.l1_chain.DurableChain`, journaled
and replayed, so it survives restarts like a real chain and the contracts are loaded, not
redeployed. Without it the chain lives in memory only, and a node restarted over a database
whose batches were settled on such a lost chain halts settlement (EMBEDDED_L1_LOST) rather than
pretending.

Given a JSON-RPC client (:meth:`~starkperp.l1.client.L1Client.connect`), the service deploys
the same contracts on that chain at its first start and records their addresses, the chain id,
the operator and the first block in the node database (meta ``l1_deployment``); later starts
attach to them (no journal: the chain is the record) and read deposits with ``eth_getLogs``
(:class:`~starkperp.node.l1_watch.JsonRpcLogIndex`), ``l1_confirmations`` blocks deep.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boa.rpc import RPCError
from eth_account import Account

from starkperp.errors import StarkPerpError
from starkperp.exchange.errors import ExchangeError
from starkperp.exchange.events import (
    AccountCreated,
    Deleveraged,
    Deposited,
    Event,
    FundingApplied,
    Liquidated,
    OraclePriceSet,
    OrderAccepted,
    Transferred,
    Withdrawn,
)
from starkperp.exchange.model import Fill
from starkperp.l1.client import L1Client, encode_rollup_data, get_deployment_record, sign_digest
from starkperp.l1.config import DAY, L1Config
from starkperp.l1.errors import L1Error
from starkperp.l1.verifier_gen import VerifierContracts
from starkperp.node.bridge import BridgeError, EventBridge
from starkperp.node.codec import decode_event
from starkperp.node.config import SettlementConfig
from starkperp.node.l1_chain import DurableChain
from starkperp.node.l1_watch import (
    DepositWatcher,
    EmbeddedLogIndex,
    JsonRpcLogIndex,
    L1Deposit,
    LogIndex,
)
from starkperp.node.pipeline import (
    BatchProver,
    BatchStatus,
    L1Submitter,
    ProvedBatch,
    StepVerification,
)
from starkperp.rollup.air import get_batch_air, verify_batch
from starkperp.rollup.batch import BatchResult, execute_batch
from starkperp.rollup.config import RollupConfig, get_preset
from starkperp.rollup.errors import RollupError
from starkperp.rollup.hashing import compute_keccak256
from starkperp.rollup.quantities import PublicKey
from starkperp.rollup.state import RollupState
from starkperp.rollup.transactions import Deposit, Trade, Transaction, Withdrawal
from starkperp.stark.options import PRESETS, ProofOptions

if TYPE_CHECKING:
    from starkperp.node.service import Node

__all__ = [
    "OPERATOR_ORACLE_KEY",
    "BatchRecord",
    "BatchState",
    "SettlementError",
    "SettlementReason",
    "SettlementService",
    "deploy_batch_verifier",
    "get_verifier_artifacts",
    "load_verifier_contracts",
    "NODE_ORDERS_DEPTH",
    "load_step_verification",
    "deploy_contracts",
    "get_cache_dir",
    "get_rollup_config",
]

OPERATOR_ORACLE_KEY = PublicKey(0x0A11CE)
"""The key under which the bridge publishes the operator's oracle prices to the rollup."""

_BRIDGED = (
    AccountCreated,
    OrderAccepted,
    Deposited,
    Withdrawn,
    Transferred,
    Fill,
    OraclePriceSet,
    FundingApplied,
    Liquidated,
    Deleveraged,
)


class SettlementReason(enum.Enum):
    """Why settlement refused an input or halted."""

    NOT_READY = 1
    UNKNOWN_ACCOUNT = 2
    BRIDGE_REJECTED = 3
    BATCH_REJECTED = 4
    PROOF_REJECTED = 5
    L1_REJECTED = 6
    L1_INCONSISTENT = 7
    EMBEDDED_L1_LOST = 8
    LOG_INCONSISTENT = 9
    L1_DEPLOYMENT_LOST = 10


class SettlementError(StarkPerpError):
    """A refusal of the settlement service; ``reason`` is a :class:`SettlementReason`."""

    def __init__(self, reason: SettlementReason, message: str = "") -> None:
        super().__init__(reason, message)


class BatchState(enum.Enum):
    """The stored status of a batch, in the order a batch moves through them."""

    CLOSED = "CLOSED"
    PROVEN = "PROVEN"
    SUBMITTING = "SUBMITTING"
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRecord:
    """One batch as stored in the node's database, with its figures."""

    batch_number: int
    first_tx: int
    n_tx: int
    state: BatchState
    reason: str = ""
    n_trades: int = 0
    n_deposits: int = 0
    n_withdrawals: int = 0
    new_state_hash: str = ""
    calldata_hash: str = ""
    proof_bytes: int = 0
    prove_seconds: float = 0.0
    verify_seconds: float = 0.0
    gas_used: int = 0
    closed_ms: int = 0
    settled_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON document stored for this batch."""
        doc = asdict(self)
        doc["state"] = self.state.value
        return doc

    @staticmethod
    def from_json(doc: dict[str, Any]) -> BatchRecord:
        """Rebuild a record from its stored document."""
        fields = dict(doc)
        fields["state"] = BatchState(fields["state"])
        return BatchRecord(**fields)


NODE_ORDERS_DEPTH = 61
"""Depth of the order tree the node settles with. An order leaf sits at its message hash
mod 2^depth (AIR v4), and a batch whose new order lands on another message's leaf is
rejected (``ORDER_ID_COLLISION``), which halts settlement; the presets' 8- and 32-deep trees
collide after a few dozen / tens of thousands of filled orders. At 61 (the deepest whose
order step still fits the 64-cycle step, 512 rows) a collision is not expected in 10^9
orders; it doubles to quadruples the rows per step against the presets."""


def get_rollup_config(preset: str) -> RollupConfig:
    """Return the rollup configuration the node proves under (operator oracle, no sigs,
    :data:`NODE_ORDERS_DEPTH`-deep order tree)."""
    config = get_preset(preset, oracle_signers=(OPERATOR_ORACLE_KEY,), verify_signatures=False)
    return replace(config, orders_depth=max(config.orders_depth, NODE_ORDERS_DEPTH))


def deploy_contracts(
    client: L1Client,
    config: RollupConfig,
    options: ProofOptions,
    *,
    genesis: RollupState,
    operator: str,
    deployer: str,
    verifier: str | None = None,
) -> str:
    """Deploy the batch verifier (unless ``verifier`` is the address of one already on this
    chain), the collateral token and ``StarkPerpetual`` on ``client``, all from ``deployer``;
    return the verifier's (core) address."""
    if verifier is None:
        verifier = str(deploy_batch_verifier(client, config, options, sender=deployer).core.address)
    client.deploy(
        config=L1Config(
            tree_depth=config.positions_depth,
            n_assets=config.n_assets,
            grace_period=DAY,
            deposit_cancel_delay=DAY,
        ),
        initial_state_hash=genesis.get_shared_state().compute_hash(),
        operator=operator,
        deployer=deployer,
        verifier=verifier,
    )
    return verifier


def get_cache_dir() -> Path:
    """Return where compiled verifier contracts are cached (``STARKPERP_CACHE``)."""
    return Path(os.environ.get("STARKPERP_CACHE", "~/.cache/starkperp")).expanduser()


_CACHE_VERSION = 2


def get_verifier_artifacts(config: RollupConfig, options: ProofOptions) -> dict[str, Any]:
    """Return ``{name: {"initcode": hex, "abi": [...]}}`` for every contract of the batch
    verifier (:func:`~starkperp.l1.verifier_gen.render_verifier`).

    Compiling the generated Vyper takes tens of seconds, so the result is cached under
    :func:`get_cache_dir`, keyed by the rendered sources and the compiler version: the
    creation code (without constructor arguments, so it deploys from any account on any
    chain) and the ABI (so a restarted node attaches by address without compiling).
    """
    import boa
    import vyper
    from vyper.compiler.output import build_abi_output

    from starkperp.l1.verifier_gen import render_verifier

    sources = render_verifier(get_batch_air(config), options, contract_name=_CORE)
    key = json.dumps([_CACHE_VERSION, vyper.__version__, sources], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    path = get_cache_dir() / f"batch-verifier-v{_CACHE_VERSION}-{digest}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        record = json.loads(path.read_text())
        if set(record["contracts"]) == set(sources):
            return dict(record["contracts"])
    contracts: dict[str, Any] = {}
    for name, source in sources.items():
        deployer = boa.loads_partial(source, name=name)
        contracts[name] = {
            "initcode": bytes(deployer.compiler_data.bytecode).hex(),
            "abi": build_abi_output(deployer.compiler_data),
        }
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"contracts": contracts}))
        tmp.replace(path)
    return contracts


def _attach_abi(client: L1Client, artifact: dict[str, Any], name: str, address: str) -> Any:
    import boa

    with boa.swap_env(client.env):
        return boa.loads_abi(json.dumps(artifact["abi"]), name=name).at(address)


def deploy_batch_verifier(
    client: L1Client, config: RollupConfig, options: ProofOptions, *, sender: str
) -> VerifierContracts:
    """Deploy the generated verifier of the batch AIR from ``sender``, wired together as
    :func:`~starkperp.l1.verifier_gen.deploy_verifier_contracts` wires it; return it.

    The contracts without constructor arguments go first (the Merkle, DEEP, ... helpers,
    the transition chunks, the periodic groups), then the out-of-domain contract over the
    chunks and groups, then the core over its helpers in the order of its constructor.
    """
    from boa.util.abi import abi_encode

    artifacts = get_verifier_artifacts(config, options)
    handles: dict[str, Any] = {}

    def create(name: str, schema: str = "", args: tuple[Any, ...] = ()) -> None:
        code = bytes.fromhex(artifacts[name]["initcode"])
        if schema:
            code += abi_encode(schema, args)
        address = client.create(code, sender=sender)
        handles[name] = _attach_abi(client, artifacts[name], name, address)

    for name in artifacts:
        if name not in (_CORE, _CORE + "Ood"):
            create(name)
    chunks = [str(handles[n].address) for n in _numbered(artifacts, _CORE + "Chunk")]
    groups = [str(handles[n].address) for n in _numbered(artifacts, _CORE + "Periodic")]
    create(_CORE + "Ood", "(address[],address[])", (chunks, groups))
    helpers = _get_core_helpers(artifacts)
    create(
        _CORE,
        "(" + ",".join("address" for _ in helpers) + ")",
        tuple(str(handles[_CORE + helper].address) for helper in helpers),
    )
    return _verifier_contracts(artifacts, handles)


_CORE = "BatchVerifier"


def _get_core_helpers(artifacts: dict[str, Any]) -> list[str]:
    # The core's constructor takes its helper contracts' addresses: ``_ood`` -> ``...Ood``.
    suffixes = {n.removeprefix(_CORE).lower(): n.removeprefix(_CORE) for n in artifacts}
    ctor = next(e for e in artifacts[_CORE]["abi"] if e["type"] == "constructor")
    return [suffixes[i["name"].lstrip("_").lower()] for i in ctor["inputs"]]


def _verifier_contracts(artifacts: dict[str, Any], handles: dict[str, Any]) -> VerifierContracts:
    fields: dict[str, Any] = {
        "core": handles[_CORE],
        "chunks": tuple(handles[n] for n in _numbered(artifacts, _CORE + "Chunk")),
        "periodic_groups": tuple(handles[n] for n in _numbered(artifacts, _CORE + "Periodic")),
    }
    for field in dataclasses.fields(VerifierContracts):
        if field.name not in fields:
            fields[field.name] = handles[_CORE + field.name.capitalize()]
    return VerifierContracts(**fields)


def _numbered(artifacts: dict[str, Any], prefix: str) -> list[str]:
    names = [n for n in artifacts if n.startswith(prefix) and n[len(prefix) :].isdigit()]
    return sorted(names, key=lambda n: int(n.removeprefix(prefix)))


def load_verifier_contracts(
    client: L1Client, config: RollupConfig, options: ProofOptions, address: str
) -> VerifierContracts:
    """Attach to the batch verifier whose core is at ``address`` (the other contracts'
    addresses are read from the core's and the out-of-domain contract's getters), by the
    cached ABIs: nothing is compiled when the cache holds them."""
    artifacts = get_verifier_artifacts(config, options)
    handles: dict[str, Any] = {}

    def attach(name: str, at: Any) -> Any:
        handles[name] = _attach_abi(client, artifacts[name], name, str(at))
        return handles[name]

    core = attach(_CORE, address)
    getters = [
        e["name"]
        for e in artifacts[_CORE]["abi"]
        if e["type"] == "function"
        and not e["inputs"]
        and [o["type"] for o in e["outputs"]] == ["address"]
    ]
    for helper in _get_core_helpers(artifacts):  # getter ``deepComposer`` for ``...Deep``
        getter = next(g for g in getters if g.lower().startswith(helper.lower()))
        attach(_CORE + helper, getattr(core, getter)())
    ood = handles[_CORE + "Ood"]
    for i, name in enumerate(_numbered(artifacts, _CORE + "Chunk")):
        attach(name, ood.CHUNKS(i))
    for i, name in enumerate(_numbered(artifacts, _CORE + "Periodic")):
        attach(name, ood.PERIODICS(i))
    return _verifier_contracts(artifacts, handles)


def load_step_verification(
    client: L1Client, config: RollupConfig, options: ProofOptions, address: str
) -> StepVerification:
    """Attach to the batch verifier deployed at ``address`` for split-step verification."""
    return StepVerification(
        contracts=load_verifier_contracts(client, config, options, address),
        air=get_batch_air(config),
        options=options,
    )


_DEPLOYMENT_META = "l1_deployment"
_SCANNED_META = "l1_scanned_block"


def _count(txs: Sequence[Transaction], kind: type) -> int:
    return sum(1 for tx in txs if isinstance(tx, kind))


class SettlementService:
    """Batch the node's log, prove, verify, settle on L1, and credit L1 deposits."""

    def __init__(
        self,
        config: SettlementConfig | None = None,
        *,
        l1: L1Client | None = None,
        chain_path: str | None = None,
        operator_key: bytes | None = None,
        deployer: str | None = None,
        log_index: LogIndex | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        """``l1`` None: an embedded chain, deployed at its first start; durable (journaled
        and replayed, :class:`~starkperp.node.l1_chain.DurableChain`) if ``chain_path`` names
        its journal, else in memory only. ``operator_key`` signs registrations and sends
        ``updateState`` (random if None; a durable chain keeps the one it deployed with)."""
        self.config = config if config is not None else SettlementConfig()
        self.owns_chain = l1 is None
        """Whether this service made its (embedded) chain rather than being handed one."""
        self.chain: DurableChain | None = None
        if l1 is None and chain_path is not None:
            self.chain = DurableChain(chain_path)
            l1 = L1Client(self.chain.env)
            stored_key = self.chain.get_meta("operator_key")
            if stored_key is not None:
                operator_key = bytes.fromhex(stored_key)
            deployer = self.chain.get_meta("deployer") or deployer
        self.rollup_config = get_rollup_config(self.config.rollup_preset)
        self.options = PRESETS[self.config.proof_preset]
        self.security_bits = self.options.conjectured_security_bits()
        self.l1 = l1 if l1 is not None else L1Client.embedded()
        self.l1_lock = threading.RLock()
        """Held for every use of the L1 client (py-evm is not thread-safe)."""
        account = Account.from_key(operator_key) if operator_key else Account.create()
        self.operator_key = bytes(account.key)
        self.operator = str(account.address)
        self.deployer = deployer
        if log_index is None and self.l1.is_embedded:
            log_index = EmbeddedLogIndex(self.l1)
        self.log_index: LogIndex | None = log_index
        self.clock = clock
        self.wall_ms = wall_ms
        self.genesis = RollupState.genesis(self.rollup_config)
        self.state = self.genesis
        self.batches: list[BatchRecord] = []
        self.halted: str = ""
        self.halt_reason: SettlementReason | None = None
        self.deposit_cursor = 0
        self.n_deposits_credited = 0
        self.l1_watch_error = ""
        """The last error reading L1's deposit logs (retried every round), or empty."""
        self._watched_at = float("-inf")
        self._scanned_saved: int | None = None
        self.ready = threading.Event()
        self.l1_batch_id = 0
        self.l1_state_hash = b""
        self._stream: list[Transaction] = []
        self._opened_at: float | None = None
        self._in_flight: list[tuple[BatchRecord, BatchResult, Future[ProvedBatch]]] = []
        self._queue: queue.Queue[tuple[int, Sequence[Event]]] = queue.Queue()
        self._translated_seq = 0
        self._flush_seq: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._node: Node | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_seq = 0
        self._prover: BatchProver | None = None
        self._submitter = L1Submitter(self.l1, operator=self.operator)
        self._bridge: EventBridge | None = None
        self.error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def node(self) -> Node:
        """Return the node this service settles for."""
        assert self._node is not None, "settlement not started"
        return self._node

    def start(self, node: Node) -> None:
        """Attach to a started node (on its event loop) and start the settlement thread."""
        self._node = node
        self._loop = asyncio.get_running_loop()
        self._start_seq = node.seq.last_seq
        node.seq.listeners.append(self._on_commit)
        self._bridge = EventBridge(
            node.exchange_config,
            self.rollup_config,
            oracle_public_key=OPERATOR_ORACLE_KEY,
            get_recipient=self._get_recipient,
        )
        self._thread = threading.Thread(target=self._run, name="settlement", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and the provers (blocking; unfinished batches resume on restart)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._prover is not None:
            self._prover.close()
            self._prover = None
        if self._node is not None and self._on_commit in self._node.seq.listeners:
            self._node.seq.listeners.remove(self._on_commit)
        if self.chain is not None:
            self.chain.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the contracts are deployed and the log replayed."""
        return self.ready.wait(timeout)

    def _on_commit(self, committed: Sequence[Any]) -> None:
        for c in committed:
            self._queue.put((c.seq, [e for e in c.events if isinstance(e, _BRIDGED)]))

    def _get_recipient(self, account_id: int) -> int | None:
        record = self.node.registry.by_account.get(account_id)
        return None if record is None else int(record.eth_address, 16)

    # ------------------------------------------------------------ public helpers

    def sign_registration(self, *, eth_address: str, stark_key: int) -> bytes:
        """Return the operator's signature registering an onboarded user's key on L1."""
        record = self.node.registry.by_address.get(eth_address.lower())
        if record is None or record.stark_key != stark_key:
            raise SettlementError(SettlementReason.UNKNOWN_ACCOUNT, "not an onboarded key")
        with self.l1_lock:
            digest = self.l1.get_registration_digest(eth_address, stark_key)
        return sign_digest(self.operator_key, digest)

    def get_status(self) -> dict[str, Any]:
        """Return settlement figures for the node's status (no L1 call)."""
        last = self.batches[-1] if self.batches else None
        counts: dict[str, int] = {}
        for b in self.batches:
            counts[b.state.value] = counts.get(b.state.value, 0) + 1
        return {
            "ready": self.ready.is_set(),
            "halted": self.halted,
            "proofPreset": self.config.proof_preset,
            "verifyInSteps": self.config.verify_in_steps,
            "securityBits": self.security_bits,
            "embeddedL1": self.l1.is_embedded,
            "perpetual": str(self.l1.system.perpetual.address) if self.l1.deployment else "",
            "l1BatchId": self.l1_batch_id,
            "l1StateHash": "0x" + self.l1_state_hash.hex(),
            "batches": counts,
            "lastBatch": last.to_json() if last is not None else None,
            "openBatchTxs": len(self._stream) - self._next_tx(),
            "depositCursor": self.deposit_cursor,
            "l1WatchError": self.l1_watch_error,
        }

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self._prover = BatchProver(
                self.options, max_workers=self.config.prover_workers, squash=self.config.squash
            )
            self._prover.warm(execute_batch(self.genesis, [], 0))
            self._open_l1()
            self._recover()
            self.ready.set()
            while not self._stop.is_set():
                self._step(timeout=self.config.poll_seconds)
        except BaseException as exc:  # the node keeps serving; status shows the failure
            self.error = exc
            self._halt(SettlementReason.NOT_READY, f"settlement thread failed: {exc!r}")
            self.ready.set()

    def _halt(self, reason: SettlementReason, message: str) -> None:
        if not self.halted:
            self.halted = f"{reason.name}: {message}"
            self.halt_reason = reason

    def _open_l1(self) -> None:
        store = self.node.store
        with self.l1_lock:
            if self.l1.is_embedded:
                self._open_embedded()
            else:
                self._open_json_rpc()
            if self.l1.deployment is None:  # halted: the recorded contracts are gone
                return
            if self.config.verify_in_steps:
                self._submitter.steps = load_step_verification(
                    self.l1, self.rollup_config, self.options, self.l1.system.verifier_address
                )
            self._refresh_l1()
        store.set_meta("l1_perpetual", str(self.l1.system.perpetual.address))

    def _open_embedded(self) -> None:
        store = self.node.store
        if self.chain is not None:
            self.chain.replay()
            self.chain.load_deployment(self.l1)
        if self.l1.deployment is not None:
            return
        if self.owns_chain and store.load_batches():  # journal gone, or none kept
            self._halt(
                SettlementReason.EMBEDDED_L1_LOST,
                "batches were settled on an embedded chain that did not survive the restart",
            )
        deployer = self.deployer or self.l1.new_account()
        self.deployer = deployer
        deploy_contracts(
            self.l1,
            self.rollup_config,
            self.options,
            genesis=self.genesis,
            operator=self.operator,
            deployer=deployer,
        )
        if self.chain is not None:
            self.chain.set_meta("operator_key", self.operator_key.hex())
            self.chain.set_meta("deployer", deployer)
            self.chain.save_deployment(self.l1.system)

    def _open_json_rpc(self) -> None:
        """Attach to the contracts recorded in the node database, or deploy and record them.

        The chain is the record of everything after the deployment (batch id, state hash,
        deposits), so only the addresses, the chain id, the operator and the first block
        are stored (meta ``l1_deployment``).
        """
        store = self.node.store
        text = store.get_meta(_DEPLOYMENT_META)
        chain_id = self.l1.get_chain_id()
        if text is not None:
            record = json.loads(text)
            if int(record["chain_id"]) != chain_id:
                self._halt(
                    SettlementReason.L1_DEPLOYMENT_LOST,
                    f"contracts recorded on chain {record['chain_id']}, connected to {chain_id}",
                )
                return
            if str(record["operator"]).lower() != self.operator.lower():
                self._halt(
                    SettlementReason.L1_INCONSISTENT,
                    f"the L1 key is not the deployment's operator {record['operator']}",
                )
                return
            try:
                self.l1.attach(record)
            except L1Error as exc:
                self._halt(SettlementReason.L1_DEPLOYMENT_LOST, exc.message)
                return
            self.deployer = str(record["deployer"])
            start_block = int(record["block"])
        else:
            if store.load_batches():
                self._halt(
                    SettlementReason.L1_DEPLOYMENT_LOST,
                    "batches exist but no contracts are recorded for this chain",
                )
                return
            start_block = self.l1.get_block_number()
            if self.l1.deployment is None:
                self.deployer = self.deployer or self.operator
                deploy_contracts(
                    self.l1,
                    self.rollup_config,
                    self.options,
                    genesis=self.genesis,
                    operator=self.operator,
                    deployer=self.deployer,
                )
            record = get_deployment_record(self.l1.system)
            record.update(
                chain_id=chain_id,
                operator=self.operator,
                deployer=self.deployer or "",
                block=start_block,
            )
            store.set_meta(_DEPLOYMENT_META, json.dumps(record))
        if self.log_index is None:
            scanned = store.get_meta(_SCANNED_META)
            self.log_index = JsonRpcLogIndex(
                self.l1,
                confirmations=self.config.l1_confirmations,
                chunk_blocks=self.config.l1_log_chunk_blocks,
                start_block=start_block,
                scanned_block=int(scanned) if scanned is not None else start_block - 1,
            )

    def _refresh_l1(self) -> None:
        self.l1_batch_id = self.l1.get_batch_id()
        self.l1_state_hash = self.l1.get_state_hash()

    def _recover(self) -> None:
        """Stage 1 over the log so far; rebuild the state and resume the stored batches."""
        store = self.node.store
        assert self._bridge is not None
        for record in store.read_from(1):
            if record.seq > self._start_seq:
                break
            events = [decode_event(e) for e in record.payload.get("events", [])]
            self._translate([e for e in events if isinstance(e, _BRIDGED)])
            self._translated_seq = record.seq
            deposit = (record.payload.get("node") or {}).get("l1_deposit")
            if deposit is not None:
                self.deposit_cursor = max(self.deposit_cursor, int(deposit["cursor"]))
                self.n_deposits_credited += 0 if deposit.get("ignored") else 1
        self.batches = [BatchRecord.from_json(d) for d in store.load_batches()]
        for i, batch in enumerate(self.batches):
            if batch.batch_number != i or batch.first_tx + batch.n_tx > len(self._stream):
                self._halt(SettlementReason.LOG_INCONSISTENT, f"batch record {i} does not fit")
                return
        for batch in self.batches:
            if self.halted:
                return
            txs = self._stream[batch.first_tx : batch.first_tx + batch.n_tx]
            if batch.state is BatchState.SETTLED:
                try:
                    result = execute_batch(self.state, txs, batch.batch_number)
                except RollupError as exc:
                    self._halt(SettlementReason.LOG_INCONSISTENT, exc.message)
                    return
                if "0x" + result.new_shared_state.compute_hash().hex() != batch.new_state_hash:
                    self._halt(SettlementReason.LOG_INCONSISTENT, "re-executed hash differs")
                    return
                self.state = result.state
            elif batch.state is BatchState.REJECTED:
                self._halt(SettlementReason.BATCH_REJECTED, f"batch {batch.batch_number}")
                return
            elif self.l1_batch_id > batch.batch_number:  # sent before the crash
                try:
                    result = execute_batch(self.state, txs, batch.batch_number)
                except RollupError as exc:
                    self._halt(SettlementReason.LOG_INCONSISTENT, exc.message)
                    return
                self.state = result.state
                self._adopt_l1(batch, result.new_shared_state.compute_hash())
            else:
                self._execute_and_prove(batch, txs)
        if len(self._stream) > self._next_tx():
            self._opened_at = self.clock()

    def _next_tx(self) -> int:
        last = self.batches[-1] if self.batches else None
        return 0 if last is None else last.first_tx + last.n_tx

    def _translate(self, events: Sequence[Event]) -> None:
        if not events or self.halted:
            return
        assert self._bridge is not None
        try:
            txs = self._bridge.translate(events)
        except BridgeError as exc:
            self._halt(SettlementReason.BRIDGE_REJECTED, f"{exc.reason.name}: {exc.message}")
            return
        if txs and len(self._stream) == self._next_tx():
            self._opened_at = self.clock()
        self._stream.extend(txs)

    def _step(self, *, timeout: float) -> None:
        """One round: take new records, close batches, settle finished proofs, watch L1."""
        try:
            item = self._queue.get(timeout=timeout)
            while True:  # one translation per record, exactly as in recovery
                self._translate(item[1])
                self._translated_seq = max(self._translated_seq, item[0])
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        if self.halted:
            return
        self._close_batches()
        self._collect()
        self._watch_deposits()
        self._observe()

    def _close_batches(self) -> None:
        limit = self.config.max_transactions
        while not self.halted and len(self._stream) - self._next_tx() >= limit:
            self._close(limit)
        waiting = len(self._stream) - self._next_tx()
        flush = self._flush_seq is not None and self._translated_seq >= self._flush_seq
        if flush:
            self._flush_seq = None
        if waiting and self._opened_at is not None and not self.halted:
            if flush or self.clock() - self._opened_at >= self.config.max_age_seconds:
                self._close(waiting)

    def _close(self, n_tx: int) -> None:
        first = self._next_tx()
        txs = self._stream[first : first + n_tx]
        batch = BatchRecord(
            batch_number=len(self.batches),
            first_tx=first,
            n_tx=n_tx,
            state=BatchState.CLOSED,
            n_trades=_count(txs, Trade),
            n_deposits=_count(txs, Deposit),
            n_withdrawals=_count(txs, Withdrawal),
            closed_ms=self.wall_ms(),
        )
        self._save(batch)
        self._opened_at = self.clock() if len(self._stream) > first + n_tx else None
        self._execute_and_prove(batch, txs)

    def _save(self, batch: BatchRecord) -> None:
        self.node.store.save_batch(batch.batch_number, batch.to_json())
        if batch.batch_number < len(self.batches):
            self.batches[batch.batch_number] = batch
        else:
            self.batches.append(batch)

    def _execute_and_prove(self, batch: BatchRecord, txs: Sequence[Transaction]) -> None:
        try:
            result = execute_batch(self.state, txs, batch.batch_number)
        except RollupError as exc:
            self._reject(batch, SettlementReason.BATCH_REJECTED, exc.message)
            return
        self.state = result.state
        assert self._prover is not None
        self._in_flight.append((batch, result, self._prover.submit(result)))

    def _reject(self, batch: BatchRecord, reason: SettlementReason, message: str) -> None:
        self._save(replace(batch, state=BatchState.REJECTED, reason=message))
        self._halt(reason, f"batch {batch.batch_number}: {message}")

    def _collect(self) -> None:
        while self._in_flight and not self.halted and not self._stop.is_set():
            batch, result, future = self._in_flight[0]
            if not future.done():
                return
            self._in_flight.pop(0)
            self._settle(batch, result, future.result())

    def _settle(self, batch: BatchRecord, result: BatchResult, proved: ProvedBatch) -> None:
        """Stages 3 and 4 for one batch whose proof is ready."""
        started = time.perf_counter()
        try:
            verify_batch(self.rollup_config, result.public_input, proved.proof, self.options)
        except RollupError as exc:
            self._reject(batch, SettlementReason.PROOF_REJECTED, exc.message)
            return
        new_hash = result.new_shared_state.compute_hash()
        batch = replace(
            batch,
            state=BatchState.PROVEN,
            new_state_hash="0x" + new_hash.hex(),
            proof_bytes=len(proved.proof),
            prove_seconds=round(proved.prove_seconds, 3),
            verify_seconds=round(time.perf_counter() - started, 3),
        )
        self._save(batch)
        self.node.metrics.proving_seconds.observe(proved.prove_seconds)
        with self.l1_lock:
            self._refresh_l1()
            if self.l1_batch_id > batch.batch_number:
                self._adopt_l1(batch, new_hash)
                return
            if self.l1_batch_id < batch.batch_number:
                self._reject(batch, SettlementReason.L1_INCONSISTENT, "L1 is behind this batch")
                return
            calldata = self.l1.system.perpetual.updateState.prepare_calldata(
                proved.proof, result.public_input.encode(), encode_rollup_data(result.da_payload)
            )
            batch = replace(
                batch,
                state=BatchState.SUBMITTING,
                calldata_hash="0x" + compute_keccak256(bytes(calldata)).hex(),
            )
            self._save(batch)
            status, reason = self._submitter.submit(result, proved.proof)
            gas = self._submitter.last_gas
            self._refresh_l1()
        if status is not BatchStatus.SETTLED:
            self._reject(batch, SettlementReason.L1_REJECTED, reason)
            return
        self.node.metrics.l1_gas.inc(gas)
        self._save(
            replace(batch, state=BatchState.SETTLED, gas_used=gas, settled_ms=self.wall_ms())
        )

    def _adopt_l1(self, batch: BatchRecord, new_hash: bytes) -> None:
        """L1 already holds this batch (sent before a crash): record it, never resend."""
        if self.l1_batch_id == batch.batch_number + 1 and self.l1_state_hash != new_hash:
            self._reject(batch, SettlementReason.L1_INCONSISTENT, "L1 holds another state")
            return
        self._save(
            replace(
                batch,
                state=BatchState.SETTLED,
                new_state_hash="0x" + new_hash.hex(),
                reason="found on L1 after a restart",
                settled_ms=self.wall_ms(),
            )
        )

    # ------------------------------------------------------------ stage 5: deposits

    def _watch_deposits(self) -> None:
        if self.log_index is None:
            return
        if not self.l1.is_embedded:  # one eth_blockNumber (and eth_getLogs) per poll period
            now = self.clock()
            if now - self._watched_at < self.config.l1_poll_seconds:
                return
            self._watched_at = now
        try:
            with self.l1_lock:
                deposits = DepositWatcher(self.l1, self.log_index).get_deposits_after(
                    self.deposit_cursor
                )
        except (OSError, RPCError, L1Error) as exc:  # the L1 node is unreachable: next round
            self.l1_watch_error = repr(exc)
            return
        self.l1_watch_error = ""
        for deposit in deposits:
            if self._stop.is_set():
                return
            assert self._loop is not None
            future = asyncio.run_coroutine_threadsafe(self._credit(deposit), self._loop)
            try:
                future.result(timeout=60)
            except (StarkPerpError, TimeoutError):
                return  # node not ready: try again next round from the same cursor
            self.deposit_cursor = deposit.cursor
        scanned = self.log_index.mark_scanned()  # every deposit up to it is credited
        if not self.l1.is_embedded and scanned != self._scanned_saved:
            self.node.store.set_meta(_SCANNED_META, str(scanned))
            self._scanned_saved = scanned

    async def _credit(self, deposit: L1Deposit) -> None:
        node = self.node
        data: dict[str, Any] = {
            "cursor": deposit.cursor,
            "depositor": deposit.depositor,
            "stark_key": str(deposit.stark_key),
            "position_id": str(deposit.position_id),
            "amount": str(deposit.amount),
        }
        record = node.registry.by_account.get(deposit.position_id)
        if record is None or record.stark_key != deposit.stark_key:
            data["ignored"] = "no onboarded position with this STARK key"
            await node.seq.submit("l1_deposit", lambda: None, {"l1_deposit": data})
            return

        def run() -> None:
            node.engine.deposit(deposit.position_id, deposit.amount)

        try:
            await node.seq.submit("l1_deposit", run, {"l1_deposit": data})
        except ExchangeError as exc:
            data["ignored"] = f"{exc.reason.name}: {exc.message}"
            await node.seq.submit("l1_deposit", lambda: None, {"l1_deposit": data})
            return
        self.n_deposits_credited += 1

    def _observe(self) -> None:
        metrics = self.node.metrics
        waiting = len(self._stream) - self._next_tx()
        metrics.batch_size.set(waiting)
        age = self.clock() - self._opened_at if waiting and self._opened_at is not None else 0.0
        metrics.batch_age_seconds.set(age)

    def wait_settled(self, batch_number: int, timeout: float) -> BatchRecord | None:
        """Wait until batch ``batch_number`` is SETTLED or REJECTED (or settlement halts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if batch_number < len(self.batches):
                batch = self.batches[batch_number]
                if batch.state in (BatchState.SETTLED, BatchState.REJECTED):
                    return batch
            if self.halted:
                return None
            time.sleep(0.05)
        return None

    def flush(self) -> None:
        """Close a batch over everything committed so far, whatever its age.

        Call it on the node's event loop; the batch closes once the settlement thread has
        translated the log up to the current sequence number.
        """
        self._flush_seq = self.node.seq.last_seq
