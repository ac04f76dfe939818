"""The proof object and its byte format (version 1).

Every integer is big-endian and fixed width; a field element is 8 bytes and must be below p;
an extension element is c0 then c1; a hash is 32 bytes. Layout, in order:

=========================  ==================================================================
``u8``   version           ``PROOF_VERSION`` (1)
``u8``   log_trace_length  3..32
``u16``  main_width        1..4096
``u16``  aux_width         0..4096 (extension columns)
``u16``  composition_width 1..4096 (extension columns)
``u16``  n_queries         1..128
``u8``   folding_factor    2, 4 or 8
``b32``  main_root
``b32``  aux_root          only if aux_width > 0
``b32``  composition_root
``ext``  OOD frame         main at z, main at z*g, aux at z, aux at z*g, composition at z
``u8``   n_fri_layers      0..32, then that many ``b32`` layer roots
``u16``  remainder_len     a power of two 1..256, then that many ``ext`` coefficients
``u64``  pow_nonce
rows     main              n_queries x main_width ``felt``; ``u16`` n_nodes; ``b32`` nodes
rows     aux               only if aux_width > 0: n_queries x 2*aux_width ``felt``; nodes
rows     composition       n_queries x 2*composition_width ``felt``; nodes
layers   FRI               per layer: ``u16`` n_leaves, n_leaves x folding_factor ``ext``;
                           ``u16`` n_nodes; nodes
=========================  ==================================================================

The bytes must end exactly there. :meth:`Proof.from_bytes` checks all of this (sizes,
counts, ranges, canonical field elements) before any cryptography and raises
:class:`VerificationError` with ``MALFORMED``, ``BAD_VERSION`` or
``NON_CANONICAL_FIELD_ELEMENT``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starkperp.field.goldilocks import P
from starkperp.stark.errors import StarkReason, VerificationError
from starkperp.stark.fri import FriLayerOpening

__all__ = ["MAX_PROOF_BYTES", "PROOF_VERSION", "Proof"]

PROOF_VERSION = 1
MAX_PROOF_BYTES = 1 << 24
MAX_WIDTH = 4096
MAX_QUERIES = 128
MAX_FRI_LAYERS = 32
MAX_NODES = MAX_QUERIES * 32

ExtFelt = tuple[int, int]
Row = tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """A STARK proof; see the module docstring for the byte layout."""

    log_trace_length: int
    main_width: int
    aux_width: int
    composition_width: int
    n_queries: int
    folding_factor: int
    main_root: bytes
    aux_root: bytes
    composition_root: bytes
    ood_main_current: tuple[ExtFelt, ...]
    ood_main_next: tuple[ExtFelt, ...]
    ood_aux_current: tuple[ExtFelt, ...]
    ood_aux_next: tuple[ExtFelt, ...]
    ood_composition: tuple[ExtFelt, ...]
    fri_roots: tuple[bytes, ...]
    fri_remainder: tuple[ExtFelt, ...]
    pow_nonce: int
    main_rows: tuple[Row, ...]
    main_nodes: tuple[bytes, ...]
    aux_rows: tuple[Row, ...]
    aux_nodes: tuple[bytes, ...]
    composition_rows: tuple[Row, ...]
    composition_nodes: tuple[bytes, ...]
    fri_openings: tuple[FriLayerOpening, ...]

    def to_bytes(self) -> bytes:
        """Return the version-1 encoding."""
        out = bytearray()
        out += PROOF_VERSION.to_bytes(1, "big")
        out += self.log_trace_length.to_bytes(1, "big")
        for value in (self.main_width, self.aux_width, self.composition_width, self.n_queries):
            out += value.to_bytes(2, "big")
        out += self.folding_factor.to_bytes(1, "big")
        out += self.main_root
        if self.aux_width:
            out += self.aux_root
        out += self.composition_root
        for group in (
            self.ood_main_current,
            self.ood_main_next,
            self.ood_aux_current,
            self.ood_aux_next,
            self.ood_composition,
        ):
            out += _encode_ext(group)
        out += len(self.fri_roots).to_bytes(1, "big")
        for root in self.fri_roots:
            out += root
        out += len(self.fri_remainder).to_bytes(2, "big")
        out += _encode_ext(self.fri_remainder)
        out += self.pow_nonce.to_bytes(8, "big")
        segments = [(self.main_rows, self.main_nodes)]
        if self.aux_width:
            segments.append((self.aux_rows, self.aux_nodes))
        segments.append((self.composition_rows, self.composition_nodes))
        for rows, nodes in segments:
            for row in rows:
                out += b"".join(v.to_bytes(8, "big") for v in row)
            out += _encode_nodes(nodes)
        for opening in self.fri_openings:
            out += len(opening.leaves).to_bytes(2, "big")
            for leaf in opening.leaves:
                out += _encode_ext(leaf)
            out += _encode_nodes(opening.nodes)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Parse and bounds-check a proof; raise :class:`VerificationError` if malformed."""
        return _parse(data)[0]

    @staticmethod
    def get_section_spans(data: bytes) -> list[tuple[str, int, int]]:
        """Return (section name, start, end) of every section of a well-formed proof."""
        return _parse(data)[1]


def _parse(data: bytes) -> tuple[Proof, list[tuple[str, int, int]]]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise VerificationError(StarkReason.MALFORMED, "proof must be bytes")
    data = bytes(data)
    if len(data) > MAX_PROOF_BYTES:
        raise VerificationError(StarkReason.MALFORMED, "proof too large")
    reader = _Reader(data)
    reader.mark("header")
    version = reader.uint(1)
    if version != PROOF_VERSION:
        raise VerificationError(StarkReason.BAD_VERSION, f"unknown proof version {version}")
    log_n = reader.bounded(1, 3, 32, "log_trace_length")
    main_width = reader.bounded(2, 1, MAX_WIDTH, "main_width")
    aux_width = reader.bounded(2, 0, MAX_WIDTH, "aux_width")
    composition_width = reader.bounded(2, 1, MAX_WIDTH, "composition_width")
    n_queries = reader.bounded(2, 1, MAX_QUERIES, "n_queries")
    folding_factor = reader.uint(1)
    if folding_factor not in (2, 4, 8):
        raise VerificationError(StarkReason.MALFORMED, "folding factor must be 2, 4 or 8")
    reader.mark("commitments")
    main_root = reader.take(32)
    aux_root = reader.take(32) if aux_width else b""
    composition_root = reader.take(32)
    reader.mark("ood_frame")
    ood_main_current = reader.exts(main_width)
    ood_main_next = reader.exts(main_width)
    ood_aux_current = reader.exts(aux_width)
    ood_aux_next = reader.exts(aux_width)
    ood_composition = reader.exts(composition_width)
    reader.mark("fri_roots")
    n_layers = reader.bounded(1, 0, MAX_FRI_LAYERS, "n_fri_layers")
    fri_roots = tuple(reader.take(32) for _ in range(n_layers))
    reader.mark("fri_remainder")
    remainder_len = reader.bounded(2, 1, 256, "remainder_len")
    if remainder_len & (remainder_len - 1):
        raise VerificationError(StarkReason.MALFORMED, "remainder length not a power of two")
    fri_remainder = reader.exts(remainder_len)
    reader.mark("pow_nonce")
    pow_nonce = reader.uint(8)
    reader.mark("main_rows")
    main_rows = reader.rows(n_queries, main_width)
    reader.mark("main_nodes")
    main_nodes = reader.nodes()
    aux_rows: tuple[Row, ...] = ()
    aux_nodes: tuple[bytes, ...] = ()
    if aux_width:
        reader.mark("aux_rows")
        aux_rows = reader.rows(n_queries, 2 * aux_width)
        reader.mark("aux_nodes")
        aux_nodes = reader.nodes()
    reader.mark("composition_rows")
    composition_rows = reader.rows(n_queries, 2 * composition_width)
    reader.mark("composition_nodes")
    composition_nodes = reader.nodes()
    openings = []
    for layer in range(n_layers):
        reader.mark(f"fri_layer_{layer}_leaves")
        n_leaves = reader.bounded(2, 1, n_queries, "n_leaves")
        leaves = tuple(reader.exts(folding_factor) for _ in range(n_leaves))
        reader.mark(f"fri_layer_{layer}_nodes")
        openings.append(FriLayerOpening(leaves=leaves, nodes=reader.nodes()))
    reader.mark("end")
    if reader.remaining:
        raise VerificationError(StarkReason.MALFORMED, "trailing bytes after the proof")
    proof = Proof(
        log_trace_length=log_n,
        main_width=main_width,
        aux_width=aux_width,
        composition_width=composition_width,
        n_queries=n_queries,
        folding_factor=folding_factor,
        main_root=main_root,
        aux_root=aux_root,
        composition_root=composition_root,
        ood_main_current=ood_main_current,
        ood_main_next=ood_main_next,
        ood_aux_current=ood_aux_current,
        ood_aux_next=ood_aux_next,
        ood_composition=ood_composition,
        fri_roots=fri_roots,
        fri_remainder=fri_remainder,
        pow_nonce=pow_nonce,
        main_rows=main_rows,
        main_nodes=main_nodes,
        aux_rows=aux_rows,
        aux_nodes=aux_nodes,
        composition_rows=composition_rows,
        composition_nodes=composition_nodes,
        fri_openings=tuple(openings),
    )
    return proof, reader.spans


def _encode_ext(values: tuple[ExtFelt, ...]) -> bytes:
    return b"".join(c0.to_bytes(8, "big") + c1.to_bytes(8, "big") for c0, c1 in values)


def _encode_nodes(nodes: tuple[bytes, ...]) -> bytes:
    return len(nodes).to_bytes(2, "big") + b"".join(nodes)


class _Reader:
    __slots__ = ("_data", "_pos", "spans")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self.spans: list[tuple[str, int, int]] = []

    def mark(self, name: str) -> None:
        if self.spans:
            previous, start, _ = self.spans[-1]
            self.spans[-1] = (previous, start, self._pos)
        if name != "end":
            self.spans.append((name, self._pos, self._pos))

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, size: int) -> bytes:
        if size > self.remaining:
            raise VerificationError(StarkReason.MALFORMED, "proof truncated")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def bounded(self, size: int, low: int, high: int, name: str) -> int:
        value = self.uint(size)
        if not low <= value <= high:
            raise VerificationError(StarkReason.MALFORMED, f"{name} {value} not in {low}..{high}")
        return value

    def felts(self, count: int) -> Row:
        raw = self.take(8 * count)
        values = tuple(int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw), 8))
        if any(v >= P for v in values):
            raise VerificationError(StarkReason.NON_CANONICAL_FIELD_ELEMENT, "element >= p")
        return values

    def exts(self, count: int) -> tuple[ExtFelt, ...]:
        flat = self.felts(2 * count)
        return tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))

    def rows(self, count: int, width: int) -> tuple[Row, ...]:
        if 8 * count * width > self.remaining:
            raise VerificationError(StarkReason.MALFORMED, "proof truncated")
        return tuple(self.felts(width) for _ in range(count))

    def nodes(self) -> tuple[bytes, ...]:
        count = self.bounded(2, 0, MAX_NODES, "n_nodes")
        return tuple(self.take(32) for _ in range(count))
