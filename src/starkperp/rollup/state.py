"""The rollup state: positions, orders, global prices and funding, and their commitments.

A **position** holds its owner's STARK key, a collateral balance and, for every configured
synthetic asset (one slot each, in config order), a signed balance and the funding index cached
when the position was last funded. An **order leaf** holds the hash of a signed message and how
much of it has been filled (trades, withdrawals and transfers all use it against replay). Both
live in sparse Merkle trees hashed with RPO, whose empty leaves are the digests of the empty
position and the empty order leaf, so an update never needs a special case for "absent".

The **shared state** is what L1 stores the keccak256 of: both roots, the funding indices, the
oracle prices, the funding timestamp and the system time, serialized in 32-byte big-endian
words. Encodings are versioned and written down in ``docs/leaf-encoding.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from starkperp.field.goldilocks import Felt
from starkperp.rollup.config import RollupConfig
from starkperp.rollup.errors import Reason, RollupError
from starkperp.rollup.hashing import (
    Digest,
    compute_digest_bytes,
    compute_keccak256,
    hash_elements,
    hash_elements_many,
    merge,
    merge_many,
)
from starkperp.rollup.quantities import (
    BALANCE_UPPER_BOUND,
    Collateral,
    FundingIndex,
    OrderKey,
    Price,
    PublicKey,
    Quantity,
    Timestamp,
)

__all__ = [
    "LEAF_ENCODING_VERSION",
    "SHARED_STATE_VERSION",
    "GlobalState",
    "MerkleProof",
    "OrderLeaf",
    "Position",
    "PositionAsset",
    "RollupState",
    "SharedState",
    "SparseMerkleTree",
    "StateReader",
    "compute_order_elements",
    "compute_order_leaf",
    "compute_position_elements",
    "compute_position_leaf",
    "compute_root_from_path",
    "decode_signed",
    "encode_signed",
    "encode_word",
    "split_public_key",
    "verify_proof",
]

LEAF_ENCODING_VERSION = 2
SHARED_STATE_VERSION = 1
_LIMB = 2**32
_KEY_LIMB_BITS = 63


def encode_signed(x: int) -> tuple[Felt, Felt]:
    """Return a signed 64-bit value as two 32-bit limbs (hi, lo) of ``x + 2^63``."""
    assert -BALANCE_UPPER_BOUND <= x < BALANCE_UPPER_BOUND
    u = x + BALANCE_UPPER_BOUND
    return Felt(u >> 32), Felt(u & (_LIMB - 1))


def decode_signed(hi: int, lo: int) -> int:
    """Return the signed value whose offset limbs are (hi, lo)."""
    return hi * _LIMB + lo - BALANCE_UPPER_BOUND


def split_public_key(key: int) -> tuple[Felt, Felt, Felt, Felt]:
    """Return a 252-bit STARK key as four 63-bit limbs, least significant first."""
    mask = (1 << _KEY_LIMB_BITS) - 1
    limbs = [(key >> (_KEY_LIMB_BITS * i)) & mask for i in range(4)]
    return (Felt(limbs[0]), Felt(limbs[1]), Felt(limbs[2]), Felt(limbs[3]))


def encode_word(x: int) -> bytes:
    """Return ``x`` as one 32-byte big-endian word (two's complement if negative)."""
    return (x % 2**256).to_bytes(32, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionAsset:
    """One synthetic slot of a position: signed balance and cached funding index."""

    balance: Quantity = Quantity(0)
    cached_funding_index: FundingIndex = FundingIndex(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A position leaf: owner key, collateral, and one :class:`PositionAsset` per slot."""

    public_key: PublicKey = PublicKey(0)
    collateral: Collateral = Collateral(0)
    assets: tuple[PositionAsset, ...]

    @staticmethod
    def empty(n_assets: int) -> Position:
        """Return the empty position (no owner, nothing held) for ``n_assets`` slots."""
        return Position(assets=(PositionAsset(),) * n_assets)

    def is_empty(self) -> bool:
        """Return whether the position holds nothing (it then has no owner either)."""
        return (
            self.public_key == 0
            and self.collateral == 0
            and all(a.balance == 0 and a.cached_funding_index == 0 for a in self.assets)
        )

    def holds_nothing(self) -> bool:
        """Return whether collateral and every synthetic balance are zero."""
        return self.collateral == 0 and all(a.balance == 0 for a in self.assets)

    def with_collateral(self, collateral: int) -> Position:
        """Return a copy with another collateral balance."""
        return replace(self, collateral=Collateral(collateral))

    def with_balance(self, slot: int, balance: int) -> Position:
        """Return a copy with another balance in ``slot``."""
        assets = list(self.assets)
        assets[slot] = replace(assets[slot], balance=Quantity(balance))
        return replace(self, assets=tuple(assets))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLeaf:
    """An order leaf: the signed message's hash, its signed limits, the amount filled so far.

    The limits (``amount``, ``amount_collateral``, ``amount_fee``, ``is_buying``,
    ``expiration_hours``) are written when the leaf is created and never change; ``filled``
    only grows and never passes ``amount``. A limit order stores its synthetic amount as
    ``amount``; a withdrawal, transfer or forced trade stores its full amount (filled at once)
    and zero collateral and fee limits.
    """

    message_hash: int = 0
    filled: int = 0
    amount: int = 0
    amount_collateral: int = 0
    amount_fee: int = 0
    is_buying: bool = False
    expiration_hours: int = 0

    def has_same_limits(self, other: OrderLeaf) -> bool:
        """Return whether ``other`` records the same signed message with the same limits."""
        return replace(self, filled=0) == replace(other, filled=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalState:
    """Funding index and oracle price per asset slot, last funding time, system time."""

    funding_indices: tuple[FundingIndex, ...]
    prices: tuple[Price, ...]
    funding_timestamp: Timestamp = Timestamp(0)
    system_time: Timestamp = Timestamp(0)

    @staticmethod
    def initial(n_assets: int, prices: Iterable[int] | None = None) -> GlobalState:
        """Return a genesis global state: zero indices, the given (or unit) prices."""
        ps = tuple(Price(p) for p in prices) if prices is not None else (Price(1),) * n_assets
        return GlobalState(funding_indices=(FundingIndex(0),) * n_assets, prices=ps)


def compute_position_elements(position: Position) -> list[Felt]:
    """Return the field elements of a position leaf (``docs/leaf-encoding.md``, v1 layout)."""
    out: list[Felt] = list(split_public_key(position.public_key))
    out.extend(encode_signed(position.collateral))
    for a in position.assets:
        out.extend(encode_signed(a.balance))
        out.extend(encode_signed(a.cached_funding_index))
    return out


def compute_position_leaf(position: Position) -> Digest:
    """Return the RPO digest of a position leaf."""
    return hash_elements(compute_position_elements(position))


def _encode_unsigned(x: int) -> tuple[Felt, Felt]:
    assert 0 <= x < 2**64
    return Felt(x >> 32), Felt(x & (_LIMB - 1))


def compute_order_elements(order: OrderLeaf) -> list[Felt]:
    """Return the field elements of an order leaf (``docs/leaf-encoding.md``, v2)."""
    out: list[Felt] = list(split_public_key(order.message_hash))
    for value in (order.filled, order.amount, order.amount_collateral, order.amount_fee):
        out.extend(_encode_unsigned(value))
    out += [Felt(int(order.is_buying)), Felt(order.expiration_hours)]
    return out


def compute_order_leaf(order: OrderLeaf) -> Digest:
    """Return the RPO digest of an order leaf."""
    return hash_elements(compute_order_elements(order))


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleProof:
    """An inclusion proof: the leaf index and its siblings from the leaf level upwards."""

    index: int
    siblings: tuple[Digest, ...]


def compute_root_from_path(index: int, leaf: Digest, siblings: Iterable[Digest]) -> Digest:
    """Return the root obtained by hashing ``leaf`` up with ``siblings``."""
    node = leaf
    for sibling in siblings:
        node = merge(sibling, node) if index & 1 else merge(node, sibling)
        index >>= 1
    return node


def verify_proof(root: Digest, leaf: Digest, proof: MerkleProof, depth: int) -> bool:
    """Return whether ``proof`` shows ``leaf`` at ``proof.index`` under ``root``."""
    if len(proof.siblings) != depth or not 0 <= proof.index < 2**depth:
        return False
    return compute_root_from_path(proof.index, leaf, proof.siblings) == root


class SparseMerkleTree:
    """A sparse RPO Merkle tree of fixed depth with cached empty subtrees.

    Only non-empty nodes are stored; ``empty[h]`` is the digest of an empty subtree of height
    ``h``. ``set_leaves`` updates many leaves at once, level by level, hashing every touched
    parent exactly once.
    """

    __slots__ = ("depth", "empty", "_nodes")

    def __init__(self, depth: int, empty_leaf: Digest) -> None:
        self.depth = depth
        empty = [empty_leaf]
        for _ in range(depth):
            empty.append(merge(empty[-1], empty[-1]))
        self.empty: tuple[Digest, ...] = tuple(empty)
        self._nodes: list[dict[int, Digest]] = [{} for _ in range(depth + 1)]

    def copy(self) -> SparseMerkleTree:
        """Return an independent copy."""
        other = SparseMerkleTree.__new__(SparseMerkleTree)
        other.depth = self.depth
        other.empty = self.empty
        other._nodes = [dict(level) for level in self._nodes]
        return other

    def get_root(self) -> Digest:
        """Return the root digest."""
        return self._nodes[self.depth].get(0, self.empty[self.depth])

    def get_node(self, height: int, index: int) -> Digest:
        """Return the node at ``height`` (0 = leaves) and ``index``."""
        return self._nodes[height].get(index, self.empty[height])

    def get_leaf(self, index: int) -> Digest:
        """Return the leaf digest at ``index``."""
        return self.get_node(0, index)

    def set_leaves(self, leaves: Mapping[int, Digest]) -> None:
        """Set many leaves and recompute every affected node once."""
        touched: set[int] = set()
        for index, digest in leaves.items():
            if not 0 <= index < 2**self.depth:
                raise RollupError(Reason.POSITION_ID_OUT_OF_RANGE, f"leaf {index}")
            self._store(0, index, digest)
            touched.add(index)
        for height in range(1, self.depth + 1):
            parents = sorted({i >> 1 for i in touched})
            lefts = [self.get_node(height - 1, 2 * p) for p in parents]
            rights = [self.get_node(height - 1, 2 * p + 1) for p in parents]
            for p, node in zip(parents, merge_many(lefts, rights), strict=True):
                self._store(height, p, node)
            touched = set(parents)

    def set_leaf(self, index: int, digest: Digest) -> None:
        """Set one leaf and recompute its path."""
        self.set_leaves({index: digest})

    def get_proof(self, index: int) -> MerkleProof:
        """Return the inclusion proof of leaf ``index``."""
        if not 0 <= index < 2**self.depth:
            raise RollupError(Reason.POSITION_ID_OUT_OF_RANGE, f"leaf {index}")
        siblings = tuple(self.get_node(h, (index >> h) ^ 1) for h in range(self.depth))
        return MerkleProof(index=index, siblings=siblings)

    def _store(self, height: int, index: int, digest: Digest) -> None:
        if digest == self.empty[height]:
            self._nodes[height].pop(index, None)
        else:
            self._nodes[height][index] = digest


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedState:
    """What L1 commits to: both roots and the global state."""

    positions_root: Digest
    orders_root: Digest
    global_state: GlobalState
    asset_ids: tuple[int, ...]

    def encode(self) -> bytes:
        """Return the canonical serialization (32-byte big-endian words, see docs)."""
        g = self.global_state
        words = [
            encode_word(SHARED_STATE_VERSION),
            compute_digest_bytes(self.positions_root),
            compute_digest_bytes(self.orders_root),
            encode_word(len(self.asset_ids)),
        ]
        for asset_id, price, idx in zip(self.asset_ids, g.prices, g.funding_indices, strict=True):
            words += [encode_word(asset_id), encode_word(price), encode_word(idx)]
        words += [encode_word(g.funding_timestamp), encode_word(g.system_time)]
        return b"".join(words)

    def compute_hash(self) -> bytes:
        """Return keccak256 of :meth:`encode`: the value L1 stores."""
        return compute_keccak256(self.encode())


class StateReader(Protocol):
    """What a transaction reads: the config, global state, positions and order leaves."""

    @property
    def config(self) -> RollupConfig: ...

    @property
    def global_state(self) -> GlobalState: ...

    def get_position(self, position_id: int) -> Position: ...

    def get_order(self, key: int) -> OrderLeaf: ...

    def get_order_key(self, message_hash: int) -> OrderKey: ...


_EMPTY_CACHE: dict[tuple[int, int, int], tuple[SparseMerkleTree, SparseMerkleTree]] = {}


def _empty_trees(config: RollupConfig) -> tuple[SparseMerkleTree, SparseMerkleTree]:
    key = (config.n_assets, config.positions_depth, config.orders_depth)
    if key not in _EMPTY_CACHE:
        _EMPTY_CACHE[key] = (
            SparseMerkleTree(
                config.positions_depth, compute_position_leaf(Position.empty(config.n_assets))
            ),
            SparseMerkleTree(config.orders_depth, compute_order_leaf(OrderLeaf())),
        )
    positions, orders = _EMPTY_CACHE[key]
    return positions.copy(), orders.copy()


@dataclass(slots=True)
class RollupState:
    """The whole L2 state. Mutable on purpose (trees are large); only batches mutate it.

    Positions and orders are kept in dictionaries (absent = empty); the trees are brought up
    to date by :meth:`commit`, which hashes every dirty leaf and each affected node once.
    """

    config: RollupConfig
    global_state: GlobalState
    positions: dict[int, Position] = field(default_factory=dict)
    orders: dict[int, OrderLeaf] = field(default_factory=dict)
    position_tree: SparseMerkleTree | None = None
    order_tree: SparseMerkleTree | None = None
    dirty_positions: set[int] = field(default_factory=set)
    dirty_orders: set[int] = field(default_factory=set)

    @staticmethod
    def genesis(config: RollupConfig, prices: Iterable[int] | None = None) -> RollupState:
        """Return the empty state of ``config`` with the given initial prices."""
        positions, orders = _empty_trees(config)
        return RollupState(
            config=config,
            global_state=GlobalState.initial(config.n_assets, prices),
            position_tree=positions,
            order_tree=orders,
        )

    def copy(self) -> RollupState:
        """Return an independent copy (trees included)."""
        assert self.position_tree is not None and self.order_tree is not None
        return RollupState(
            config=self.config,
            global_state=self.global_state,
            positions=dict(self.positions),
            orders=dict(self.orders),
            position_tree=self.position_tree.copy(),
            order_tree=self.order_tree.copy(),
            dirty_positions=set(self.dirty_positions),
            dirty_orders=set(self.dirty_orders),
        )

    def get_position(self, position_id: int) -> Position:
        """Return the position at ``position_id`` (the empty position if never used)."""
        if not 0 <= position_id < 2**self.config.positions_depth:
            raise RollupError(Reason.POSITION_ID_OUT_OF_RANGE, f"position {position_id}")
        pos = self.positions.get(position_id)
        return pos if pos is not None else Position.empty(self.config.n_assets)

    def get_order(self, key: int) -> OrderLeaf:
        """Return the order leaf at ``key`` (empty if never used)."""
        return self.orders.get(key, OrderLeaf())

    def get_order_key(self, message_hash: int) -> OrderKey:
        """Return the order-tree key of a message hash: its low ``orders_depth`` bits."""
        return OrderKey(message_hash % 2**self.config.orders_depth)

    def set_position(self, position_id: int, position: Position) -> None:
        """Store a position (the empty position is dropped) and mark its leaf dirty."""
        if position.is_empty():
            self.positions.pop(position_id, None)
        else:
            self.positions[position_id] = position
        self.dirty_positions.add(position_id)

    def set_order(self, key: int, order: OrderLeaf) -> None:
        """Store an order leaf and mark it dirty."""
        if order == OrderLeaf():
            self.orders.pop(key, None)
        else:
            self.orders[key] = order
        self.dirty_orders.add(key)

    def commit(self) -> None:
        """Hash every dirty leaf into the trees."""
        assert self.position_tree is not None and self.order_tree is not None
        if self.dirty_positions:
            ids = sorted(self.dirty_positions)
            rows = [compute_position_elements(self.get_position(i)) for i in ids]
            self.position_tree.set_leaves(dict(zip(ids, hash_elements_many(rows), strict=True)))
            self.dirty_positions.clear()
        if self.dirty_orders:
            keys = sorted(self.dirty_orders)
            rows = [compute_order_elements(self.get_order(k)) for k in keys]
            self.order_tree.set_leaves(dict(zip(keys, hash_elements_many(rows), strict=True)))
            self.dirty_orders.clear()

    def get_shared_state(self) -> SharedState:
        """Return the shared state (commits pending changes first)."""
        self.commit()
        assert self.position_tree is not None and self.order_tree is not None
        return SharedState(
            positions_root=self.position_tree.get_root(),
            orders_root=self.order_tree.get_root(),
            global_state=self.global_state,
            asset_ids=self.config.asset_ids,
        )

    def get_position_proof(self, position_id: int) -> MerkleProof:
        """Return the inclusion proof of a position against the committed root."""
        self.commit()
        assert self.position_tree is not None
        return self.position_tree.get_proof(position_id)
