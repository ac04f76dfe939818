"""Generator of the on-chain STARK verifier: Vyper source from an AIR's constraint expressions.

The Python verifier (:mod:`starkperp.stark.verifier`) is the reference; this module renders a
Vyper contract that replays it step by step on the EVM for one AIR and one set of proof
options, reading the very same proof bytes:

0. parse the version-1 proof with a cursor, checking shape against the AIR and options and
   every field element for canonicity; leaf hashes are keccak256 of the row's bytes as they
   lie in the proof;
1. replay the keccak transcript: context (AIR digest, log n, options, public inputs), main
   root, auxiliary challenges and root, composition coefficients, composition root, the
   out-of-domain point z, the OOD frame, DEEP coefficients, FRI roots and betas, the
   remainder, the proof-of-work nonce, the query positions;
2. the out-of-domain identity: the transition constraints (evaluated over F_p[X]/(X^2 - 7))
   divided by their zerofier, the boundary constraints divided by theirs, combined with the
   coefficients, against ``sum_k z^(k n) h_k(z)``;
3. the keccak Merkle multi-openings of the main, auxiliary and composition rows (computed by
   the ``<Name>Merkle`` contract, or, in split verification, looked up as statements it
   verified in earlier transactions, see :mod:`starkperp.l1.split`);
4. the DEEP composition at every query (the ``<Name>Deep`` contract: the frame's share of
   the sums once for all queries, unreduced 256-bit accumulation), then FRI: layer
   openings, folding (an unrolled inverse DFT per coset with literal twiddles, Horner in
   beta / x), remainder.

Large AIRs: the transition constraints are compiled to a register program (structurally
equal subtrees evaluated once, powers as square-and-multiply), packed six ops to a word into
the code of as many chunk contracts as the 24 KB limit needs; each chunk interprets its
program and returns its alpha-weighted sum, the Ood contract calls them in turn with the same
frame. Periodic columns are evaluated in barycentric form over their cycles
(:class:`SparsePeriodicTable`): one base-by-extension product per value that differs from
the column's most common one, all denominators inverted at once, so a selector column costs
one term whatever its period. :func:`evaluate_constraint_program` and
:func:`evaluate_sparse_periodic` are the Python twins of the interpreters.

Inverses and exponentiations use the MODEXP precompile. A proof that does not verify
reverts with a reason string naming the failed check; ``verifyProof`` (one transaction) and
``verifyProofSplit`` (after the Merkle statements) register the fact
``keccak256(abi_encode(publicInputs))`` so a caller (or a later transaction) can rely on it.

``python -m starkperp.l1.verifier_gen`` rewrites the Fibonacci example's verifier in
``contracts/generated/``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starkperp.field.goldilocks import P, get_root_of_unity
from starkperp.l1.errors import L1Error, L1Reason
from starkperp.stark import expr as ex
from starkperp.stark.air import Air, Frame, Segment, get_composition_width, get_max_degree
from starkperp.stark.options import ProofOptions
from starkperp.stark.protocol import compute_air_digest
from starkperp.stark.trace import DOMAIN_OFFSET
from starkperp.stark.transcript import PROTOCOL_TAG

__all__ = [
    "GENERATED_DIR",
    "ConstraintProgram",
    "SparsePeriodicTable",
    "compute_sparse_periodic_table",
    "evaluate_sparse_periodic",
    "compute_constraint_programs",
    "compute_max_proof_bytes",
    "VerifierContracts",
    "deploy_verifier",
    "deploy_verifier_contracts",
    "evaluate_constraint_program",
    "get_periodic_tables",
    "render_verifier",
    "write_verifier",
]

GENERATED_DIR = Path(__file__).parent / "contracts" / "generated"
MAX_LOG_DOMAIN = 31


def _keccak(data: bytes) -> bytes:
    from starkperp.crypto.keccak import keccak256

    return keccak256(data)


class _Emitter:
    """Straight-line extension-field code for expression trees (one SSA local per node)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[int, tuple[str, str]] = {}
        self.count = 0

    def _fresh(self) -> tuple[str, str]:
        self.count += 1
        return f"e{self.count}a", f"e{self.count}b"

    def _assign(self, a: str, b: str) -> tuple[str, str]:
        na, nb = self._fresh()
        self.lines.append(f"    {na}: uint256 = {a}")
        self.lines.append(f"    {nb}: uint256 = {b}")
        return na, nb

    def _mul(self, x: tuple[str, str], y: tuple[str, str]) -> tuple[str, str]:
        a0, a1 = x
        b0, b1 = y
        return self._assign(
            f"uint256_addmod(uint256_mulmod({a0}, {b0}, P), "
            f"uint256_mulmod(7, uint256_mulmod({a1}, {b1}, P), P), P)",
            f"uint256_addmod(uint256_mulmod({a0}, {b1}, P), uint256_mulmod({a1}, {b0}, P), P)",
        )

    def emit(self, root: ex.Expr) -> tuple[str, str]:
        for node in ex.walk(root):
            if id(node) in self.names:
                continue
            self.names[id(node)] = self._node(node)
        return self.names[id(root)]

    def _node(self, node: ex.Expr) -> tuple[str, str]:
        if isinstance(node, ex.Const):
            return self._assign(str(node.value % P), "0")
        if isinstance(node, ex.MainCol):
            frame = "mn" if node.offset else "mc"
            return self._assign(f"{frame}[{2 * node.index}]", f"{frame}[{2 * node.index + 1}]")
        if isinstance(node, ex.AuxCol):
            frame = "an" if node.offset else "ac"
            return self._assign(f"{frame}[{2 * node.index}]", f"{frame}[{2 * node.index + 1}]")
        if isinstance(node, ex.Periodic):
            return self._assign(f"per[{2 * node.index}]", f"per[{2 * node.index + 1}]")
        if isinstance(node, ex.PublicInput):
            return self._assign(f"pub[{node.index}]", "0")
        if isinstance(node, ex.Challenge):
            return self._assign(f"ch[{2 * node.index}]", f"ch[{2 * node.index + 1}]")
        if isinstance(node, ex.Add):
            (a0, a1), (b0, b1) = self.names[id(node.left)], self.names[id(node.right)]
            return self._assign(f"uint256_addmod({a0}, {b0}, P)", f"uint256_addmod({a1}, {b1}, P)")
        if isinstance(node, ex.Sub):
            (a0, a1), (b0, b1) = self.names[id(node.left)], self.names[id(node.right)]
            return self._assign(
                f"uint256_addmod({a0}, P - {b0}, P)", f"uint256_addmod({a1}, P - {b1}, P)"
            )
        if isinstance(node, ex.Mul):
            return self._mul(self.names[id(node.left)], self.names[id(node.right)])
        if isinstance(node, ex.Neg):
            a0, a1 = self.names[id(node.operand)]
            return self._assign(f"(P - {a0}) % P", f"(P - {a1}) % P")
        if isinstance(node, ex.Pow):
            base = self.names[id(node.base)]
            if node.exponent == 0:
                return self._assign("1", "0")
            acc: tuple[str, str] | None = None
            square = base
            e = node.exponent
            while e:
                if e & 1:
                    acc = square if acc is None else self._mul(acc, square)
                e >>= 1
                if e:
                    square = self._mul(square, square)
            assert acc is not None
            return acc
        raise L1Error(L1Reason.BAD_CONFIG, f"cannot generate code for {node!r}")


_FRAME_ARGS = """    mc: uint256[FRAME_MAIN],
    mn: uint256[FRAME_MAIN],
    ac: uint256[FRAME_AUX],
    an: uint256[FRAME_AUX],
    per: uint256[FRAME_PERIODIC],
    pub: uint256[MAX_PUBLIC],
    ch: uint256[FRAME_CHALLENGES],"""


# Opcodes of the constraint interpreter in the chunk contracts (see _CHUNK_TEMPLATE). Each op
# is 40 bits (op 8 | a 16 | b 16), six to a word, and writes register ``i`` (its position).
_OP_MUL, _OP_ADD, _OP_SUB, _OP_ACC, _OP_MAIN, _OP_MAIN_NEXT = 0, 1, 2, 3, 4, 5
_OP_AUX, _OP_AUX_NEXT, _OP_PER, _OP_PUB, _OP_CH, _OP_CONST, _OP_NEG = 6, 7, 8, 9, 10, 11, 12
_OPS_PER_WORD = 6
_MAX_OPERAND = 1 << 16
_PERIODIC_PER_WORD = 4


class ConstraintProgram:
    """Constraint expressions compiled to interpreter ops, shared subexpressions once.

    Nodes are keyed by structure (not identity), so equal subtrees built separately by the
    AIR's author are also evaluated once.
    """

    def __init__(self) -> None:
        self.ops: list[tuple[int, int, int]] = []
        self.constants: list[int] = []
        self._table: dict[tuple[int, int, int], int] = {}
        self._constant_index: dict[int, int] = {}
        self._regs: dict[int, int] = {}

    def _op(self, op: int, a: int, b: int = 0) -> int:
        key = (op, a, b)
        if op in (_OP_ADD, _OP_MUL) and a > b:
            key = (op, b, a)
        found = self._table.get(key)
        if found is not None:
            return found
        if a >= _MAX_OPERAND or b >= _MAX_OPERAND:
            raise L1Error(L1Reason.BAD_CONFIG, "constraint program too large for one chunk")
        self.ops.append(key)
        self._table[key] = len(self.ops) - 1
        return len(self.ops) - 1

    def _constant(self, value: int) -> int:
        value %= P
        if value not in self._constant_index:
            self._constant_index[value] = len(self.constants)
            self.constants.append(value)
        return self._op(_OP_CONST, self._constant_index[value])

    def add(self, root: ex.Expr) -> int:
        """Compile ``root``; return the register holding its value."""
        for node in ex.walk(root):
            if id(node) not in self._regs:
                self._regs[id(node)] = self._node(node)
        return self._regs[id(root)]

    def accumulate(self, register: int, coefficient: int) -> None:
        """Add ``register * alphas[coefficient]`` to the chunk's sum."""
        self.ops.append((_OP_ACC, register, coefficient))

    def _node(self, node: ex.Expr) -> int:
        r = self._regs
        if isinstance(node, ex.Const):
            return self._constant(node.value)
        if isinstance(node, ex.MainCol):
            return self._op(_OP_MAIN_NEXT if node.offset else _OP_MAIN, node.index)
        if isinstance(node, ex.AuxCol):
            return self._op(_OP_AUX_NEXT if node.offset else _OP_AUX, node.index)
        if isinstance(node, ex.Periodic):
            return self._op(_OP_PER, node.index)
        if isinstance(node, ex.PublicInput):
            return self._op(_OP_PUB, node.index)
        if isinstance(node, ex.Challenge):
            return self._op(_OP_CH, node.index)
        if isinstance(node, ex.Add):
            return self._op(_OP_ADD, r[id(node.left)], r[id(node.right)])
        if isinstance(node, ex.Sub):
            return self._op(_OP_SUB, r[id(node.left)], r[id(node.right)])
        if isinstance(node, ex.Mul):
            return self._op(_OP_MUL, r[id(node.left)], r[id(node.right)])
        if isinstance(node, ex.Neg):
            return self._op(_OP_NEG, r[id(node.operand)])
        if isinstance(node, ex.Pow):
            if node.exponent == 0:
                return self._constant(1)
            acc: int | None = None
            square = r[id(node.base)]
            e = node.exponent
            while e:
                if e & 1:
                    acc = square if acc is None else self._op(_OP_MUL, acc, square)
                e >>= 1
                if e:
                    square = self._op(_OP_MUL, square, square)
            assert acc is not None
            return acc
        raise L1Error(L1Reason.BAD_CONFIG, f"cannot generate code for {node!r}")

    def get_words(self) -> list[int]:
        """Return the ops packed six to a 256-bit word."""
        words = []
        for start in range(0, len(self.ops), _OPS_PER_WORD):
            word = 0
            for k, (op, a, b) in enumerate(self.ops[start : start + _OPS_PER_WORD]):
                word |= (op | a << 8 | b << 24) << (40 * k)
            words.append(word)
        return words


def compute_constraint_programs(
    air: Air, max_ops: int = 2400
) -> list[tuple[int, int, ConstraintProgram]]:
    """Split the transitions into interpreter programs of about ``max_ops`` ops each.

    Returns ``(first, end, program)`` per chunk; common subexpressions are shared inside a
    chunk.
    """
    chunks: list[tuple[int, int, ConstraintProgram]] = []
    program = ConstraintProgram()
    lo = 0
    for i, constraint in enumerate(air.transitions):
        program.accumulate(program.add(constraint.expr), i)
        if len(program.ops) >= max_ops or i == len(air.transitions) - 1:
            chunks.append((lo, i + 1, program))
            program = ConstraintProgram()
            lo = i + 1
    if not chunks:
        chunks.append((0, 0, program))
    return chunks


def evaluate_constraint_program(
    program: ConstraintProgram, frame: Frame, alphas: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """Run ``program`` as the chunk contract does; return its sum of alpha-weighted constraints.

    The Python twin of the on-chain interpreter, tested against the expression evaluator.
    """
    r: list[tuple[int, int]] = []
    s0 = s1 = 0
    for op, a, b in program.ops:
        x: tuple[int, int] = (0, 0)
        if op in (_OP_MUL, _OP_ACC):
            a0, a1 = r[a]
            b0, b1 = r[b] if op == _OP_MUL else (int(alphas[b][0]), int(alphas[b][1]))
            x = ((a0 * b0 + 7 * a1 * b1) % P, (a0 * b1 + a1 * b0) % P)
            if op == _OP_ACC:
                s0, s1 = (s0 + x[0]) % P, (s1 + x[1]) % P
                x = (0, 0)
        elif op == _OP_ADD:
            x = ((r[a][0] + r[b][0]) % P, (r[a][1] + r[b][1]) % P)
        elif op == _OP_SUB:
            x = ((r[a][0] - r[b][0]) % P, (r[a][1] - r[b][1]) % P)
        elif op == _OP_NEG:
            x = (-r[a][0] % P, -r[a][1] % P)
        elif op == _OP_CONST:
            x = (program.constants[a], 0)
        elif op == _OP_PUB:
            x = (int(frame.public_inputs[a]) % P, 0)
        else:
            source = {
                _OP_MAIN: frame.main_current,
                _OP_MAIN_NEXT: frame.main_next,
                _OP_AUX: frame.aux_current,
                _OP_AUX_NEXT: frame.aux_next,
                _OP_PER: frame.periodic,
                _OP_CH: frame.challenges,
            }[op]
            x = (int(source[a][0]), int(source[a][1]))
        r.append(x)
    return s0, s1


def _render_list(values: list[int]) -> str:
    rows = [", ".join(str(v) for v in values[i : i + 4]) for i in range(0, len(values), 4)]
    return "[\n        " + ",\n        ".join(rows) + ",\n    ]"


def _render_chunks(air: Air, max_ops: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for lo, hi, program in compute_constraint_programs(air, max_ops):
        words = program.get_words() or [0]
        constants = program.constants or [0]
        out.append(
            {
                "LO": lo,
                "HI": hi,
                "NOPS": max(len(program.ops), 1),
                "NREAL": len(program.ops),
                "CHUNK_LOOP": "    for i: uint256 in range(NREAL):"
                if program.ops
                else "    for i: uint256 in range(NREAL + 1):\n        if i >= NREAL:\n            break",
                "NWORDS": len(words),
                "NCONSTS": len(constants),
                "PROGRAM": _render_list(words),
                "CONSTS": _render_list(constants),
            }
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SparsePeriodicTable:
    """Periodic columns in barycentric form over their cycles (what the contracts store).

    A column of period k with values v_0..v_{k-1} is q(z^(n/k)) where q interpolates v_i at
    w_k^i. With c the column's most common value and L_i the Lagrange basis of the k-th roots
    of unity, q(y) = c + sum_{v_i != c} (v_i - c) L_i(y), and
    L_i(y) = w^i (y^k - 1) / (k (y - w^i)) where y^k = z^n for every period. So a column
    costs one base-by-extension product per value that differs from its most common one,
    and the denominators y_k - w_k^i (one per distinct (k, i)) are inverted together.
    """

    bases: tuple[int, ...]  # per column: its most common value c
    denominators: tuple[tuple[int, int], ...]  # (log2 k, w_k^i)
    entries: tuple[tuple[int, int, int], ...]  # (column, denominator, (v_i - c) w^i / k)


def compute_sparse_periodic_table(columns: Sequence[Sequence[int]]) -> SparsePeriodicTable:
    """Return the barycentric form of periodic columns given by their values over one cycle."""
    bases: list[int] = []
    denominators: list[tuple[int, int]] = []
    index: dict[tuple[int, int], int] = {}
    entries: list[tuple[int, int, int]] = []
    for column, values in enumerate(columns):
        k = len(values)
        if k == 0 or k & (k - 1):
            raise L1Error(L1Reason.BAD_CONFIG, "a periodic column's period must be a power of 2")
        log_k = k.bit_length() - 1
        counts = Counter(int(v) % P for v in values)
        base = max(counts, key=lambda v: (counts[v], -v))
        bases.append(base)
        omega = int(get_root_of_unity(log_k))
        k_inv = pow(k, P - 2, P)
        for i, value in enumerate(values):
            value = int(value) % P
            if value == base:
                continue
            w_i = pow(omega, i, P)
            key = (log_k, w_i)
            if key not in index:
                index[key] = len(denominators)
                denominators.append(key)
            entries.append((column, index[key], (value - base) * w_i % P * k_inv % P))
    return SparsePeriodicTable(
        bases=tuple(bases), denominators=tuple(denominators), entries=tuple(entries)
    )


def evaluate_sparse_periodic(
    table: SparsePeriodicTable, z: tuple[int, int], n: int
) -> list[tuple[int, int]]:
    """Return every column's value at ``z`` for a trace of ``n`` rows, as the contract does.

    The Python twin of the periodic-group contracts, tested against Horner on the columns'
    coefficients.
    """

    def emul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return ((a[0] * b[0] + 7 * a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)

    log_n = n.bit_length() - 1
    squares = [z]
    for _ in range(log_n):
        squares.append(emul(squares[-1], squares[-1]))
    dens = []
    for log_k, w in table.denominators:
        y = squares[log_n - log_k]
        dens.append(((y[0] - w) % P, y[1]))
    inverses = []
    for d0, d1 in dens:
        norm = (d0 * d0 - 7 * d1 * d1) % P
        ni = pow(norm, P - 2, P)
        inverses.append((d0 * ni % P, -d1 * ni % P))
    acc = [(0, 0)] * len(table.bases)
    for column, d, weight in table.entries:
        a = acc[column]
        acc[column] = ((a[0] + weight * inverses[d][0]) % P, (a[1] + weight * inverses[d][1]) % P)
    zn = squares[log_n]
    zn1 = ((zn[0] - 1) % P, zn[1])
    out = []
    for base, a in zip(table.bases, acc, strict=True):
        m = emul(zn1, a)
        out.append(((base + m[0]) % P, m[1]))
    return out


def _render_periodic_groups(air: Air, max_entries: int) -> list[dict[str, object]]:
    # Columns are cut into groups of at most ``max_entries`` sparse entries (code size); each
    # group contract evaluates its columns in barycentric form (SparsePeriodicTable).
    groups: list[dict[str, object]] = []
    current: list[tuple[int, ...]] = []

    def flush() -> None:
        table = compute_sparse_periodic_table(current)
        dens = [log_k << 64 | w for log_k, w in table.denominators] or [0]
        entries = [c | d << 16 | wt << 32 for c, d, wt in table.entries] or [0]
        words = [
            sum(v << (96 * k) for k, v in enumerate(entries[i : i + 2]))
            for i in range(0, len(entries), 2)
        ]
        groups.append(
            {
                "NPC": len(current),
                "ND": len(dens),
                "NE": len(entries),
                "NEW": len(words),
                "BASES": _render_list(list(table.bases)),
                "DENS": _render_list(dens),
                "ENTRIES": _render_list(words),
            }
        )

    used = 0
    for column in air.periodic_columns:
        values = tuple(int(v) for v in column.values)
        counts = Counter(values)
        need = len(values) - max(counts.values()) + 1
        if current and used + need > max_entries:
            flush()
            current, used = [], 0
        current.append(values)
        used += need
    if current:
        flush()
    return groups


def _render_boundary_values(air: Air) -> str:
    em = _Emitter()
    lines = [
        "@internal",
        "@pure",
        "def _boundary_values(",
        _FRAME_ARGS,
        ") -> DynArray[uint256, FRAME_BOUNDARIES]:",
        "    out: DynArray[uint256, FRAME_BOUNDARIES] = []",
    ]
    for boundary in air.boundaries:
        before = len(em.lines)
        v0, v1 = em.emit(boundary.value)
        lines += [f"    # {boundary.name}", *em.lines[before:]]
        lines.append(f"    out.append({v0})")
        lines.append(f"    out.append({v1})")
    lines.append("    return out")
    return "\n".join(lines)


def _render_boundary_table(air: Air) -> str:
    # (segment 0 main / 1 aux, column, row as signed offset encoded: row >= 0 or n + row)
    lines = [
        "@internal",
        "@pure",
        "def _boundary_spec(i: uint256) -> (uint256, uint256, int256):",
    ]
    for i, b in enumerate(air.boundaries):
        seg = 0 if b.segment is Segment.MAIN else 1
        lines.append(f"    if i == {i}:")
        lines.append(f"        return {seg}, {b.column}, {b.row}")
    lines.append("    return 0, 0, 0")
    return "\n".join(lines)


def get_periodic_tables(air: Air) -> tuple[list[int], list[int]]:
    """Return the flat coefficients and lengths of the AIR's periodic columns (Ood's
    constructor arguments)."""
    from starkperp.stark.air import compute_periodic_coefficients

    coefficients: list[int] = []
    lengths: list[int] = []
    for column in air.periodic_columns:
        cs = compute_periodic_coefficients(column)
        coefficients += [int(c) for c in cs]
        lengths.append(len(cs))
    return coefficients, lengths


def compute_max_proof_bytes(
    air: Air, options: ProofOptions, log_trace_length: int, *, with_nodes: bool = True
) -> int:
    """Return an upper bound on the size of a proof of ``air`` for 2^log_trace_length rows.

    ``with_nodes=False`` bounds the compact proof of split verification (node sections
    empty). Pass it as ``max_proof_bytes`` to :func:`render_verifier`: the contracts' memory
    (and so their gas) grows with it.
    """
    w, a, cw, nq, fold = (
        air.trace_width,
        air.aux_width,
        get_composition_width(air),
        options.n_queries,
        options.folding_factor,
    )
    log_size = log_trace_length + options.blowup.bit_length() - 1
    log_fold = fold.bit_length() - 1
    n_layers = 0
    remainder = 1 << log_trace_length
    while remainder > options.fri_max_remainder_degree + 1:
        remainder = max(remainder // fold, 1)
        n_layers += 1

    def node_bytes(depth: int) -> int:
        # at most min(nq, 2^(depth - level)) siblings per level
        return 32 * sum(min(nq, 1 << (depth - level)) for level in range(depth)) * with_nodes

    size = 11 + 32 * 3 + 16 * (2 * w + 2 * a + cw) + 1 + 32 * n_layers + 2 + 16 * remainder + 8
    size += nq * (8 * w + 16 * a + 16 * cw) + 3 * (2 + node_bytes(log_size))
    for layer in range(n_layers):
        size += 2 + nq * 16 * fold + 2 + node_bytes(log_size - log_fold * (layer + 1))
    return size


def render_verifier(
    air: Air,
    options: ProofOptions,
    *,
    contract_name: str,
    max_proof_bytes: int = 65536,
    max_chunk_ops: int = 2400,
    max_periodic_entries: int = 1500,
) -> dict[str, str]:
    """Render the Vyper sources of the verifier of ``air`` under ``options``.

    Returns ``{name: source}`` for the core verifier ``contract_name``, its out-of-domain
    contract ``<contract_name>Ood``, the transition chunks ``<contract_name>Chunk<i>`` (each
    interprets a compiled constraint program, common subexpressions evaluated once) and the
    periodic-column groups ``<contract_name>Periodic<i>``, split so every contract stays
    under the EIP-170 code-size limit.
    """
    if get_max_degree(air) > options.blowup:
        raise L1Error(L1Reason.BAD_CONFIG, "blowup below the constraint degree")
    assert options.to_bytes() == b"".join(
        v.to_bytes(8, "big")
        for v in (
            options.blowup,
            options.n_queries,
            options.grinding_bits,
            options.folding_factor,
            options.fri_max_remainder_degree,
        )
    ), "options encoding changed; update the verifier template"
    r32 = get_root_of_unity(32)
    for k in range(0, 33):
        assert pow(r32, 1 << (32 - k), P) == get_root_of_unity(k)
    params = {
        "FIELD_ARITHMETIC": _FIELD_ARITHMETIC,
        "PROTOCOL_CONSTANTS": _PROTOCOL_CONSTANTS,
        "NAME": contract_name,
        "AIR_NAME": air.name,
        "W": air.trace_width,
        "A": air.aux_width,
        "CW": get_composition_width(air),
        "NQ": options.n_queries,
        "FOLD": options.folding_factor,
        "LOG_FOLD": options.folding_factor.bit_length() - 1,
        "BLOWUP": options.blowup,
        "LOG_BLOWUP": options.blowup.bit_length() - 1,
        "GRINDING": options.grinding_bits,
        "REM_BOUND": options.fri_max_remainder_degree + 1,
        "NPUB": air.n_public_inputs,
        "NCH": air.n_aux_challenges,
        "NT": len(air.transitions),
        "NB": len(air.boundaries),
        "NCOEF": len(air.transitions) + len(air.boundaries),
        "NPER": len(air.periodic_columns),
        "AUX_ROW_BYTES": 16 * max(air.aux_width, 1),
        "MAX_LAYERS": (28 - (options.fri_max_remainder_degree + 1).bit_length() + 1)
        // (options.folding_factor.bit_length() - 1)
        + 1,
        "PUB_CONCAT": "".join(
            f"\n            convert(convert(pub[{i}], uint64), bytes8),"
            for i in range(air.n_public_inputs)
        ),
        "AIR_DIGEST": "0x" + compute_air_digest(air).hex(),
        "TAG_STATE": "0x" + _keccak(PROTOCOL_TAG).hex(),
        "DOMAIN_OFFSET": DOMAIN_OFFSET,
        "ROOT32": r32,
        "MAX_PROOF": max_proof_bytes,
        "FOLD_INV": pow(options.folding_factor, P - 2, P),
        "FOLD_BODY": _render_fold_body(options.folding_factor),
        "DEEP_ROWS": _render_deep_rows(air),
        "REMAINDER_ABSORB": _render_remainder_absorb(air, options),
        "FRI_LEAF_READ": _render_fri_leaf_read(options.folding_factor),
        "MERKLE_ROOT_BODY": _render_merkle_root_body("    ", "nodes", "indices", "leaves", True),
        "MERKLE_CHECK_BODY": _render_merkle_root_body(
            "        ", "proof", "indices[op]", "leaves[op]", False
        ),
        "REMAINDER_HORNER": "\n".join(
            f"        e{part} = unsafe_add(unsafe_mul(e{part}, x), coefficients[{2 * k + part}]) % P"
            for k in range(options.fri_max_remainder_degree - 1, -1, -1)
            for part in (0, 1)
        ),
        "FOLD_ROOT_INV": pow(get_root_of_unity(options.folding_factor.bit_length() - 1), P - 2, P),
        "BOUNDARY_SPEC": _render_boundary_table(air),
        "BOUNDARY_VALUES": _render_boundary_values(air),
    }

    def fill(template: str, extra: dict[str, object]) -> str:
        source = _guard_empty_ranges(template)
        for key, value in {**params, **extra}.items():
            source = source.replace("{{" + key + "}}", str(value))
        assert "{{" not in source, "unfilled template slot"
        return source

    sources = {
        contract_name: fill(_CORE_TEMPLATE, {}),
        f"{contract_name}Ood": fill(_OOD_TEMPLATE, {}),
        f"{contract_name}Merkle": fill(_MERKLE_TEMPLATE, {}),
        f"{contract_name}Deep": fill(_DEEP_TEMPLATE, {}),
        f"{contract_name}Fri": fill(_FRI_TEMPLATE, {}),
    }
    for i, chunk in enumerate(_render_chunks(air, max_chunk_ops)):
        sources[f"{contract_name}Chunk{i}"] = fill(_CHUNK_TEMPLATE, {"CHUNK": i, **chunk})
    for i, group in enumerate(_render_periodic_groups(air, max_periodic_entries)):
        sources[f"{contract_name}Periodic{i}"] = fill(_PERIODIC_TEMPLATE, {"GROUP": i, **group})
    return sources


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierContracts:
    """The deployed contracts of one generated verifier (boa contract objects)."""

    core: Any
    merkle: Any
    deep: Any
    fri: Any
    ood: Any
    chunks: tuple[Any, ...]
    periodic_groups: tuple[Any, ...]


def deploy_verifier_contracts(
    env: Any, air: Air, sources: dict[str, str], contract_name: str
) -> VerifierContracts:
    """Compile and deploy the contracts of :func:`render_verifier`, wired together."""
    import boa

    def load(name: str) -> Any:
        return boa.loads_partial(sources[name], name=name)

    def numbered(prefix: str) -> list[str]:
        names = [n for n in sources if n.startswith(prefix) and n[len(prefix) :].isdigit()]
        return sorted(names, key=lambda n: int(n.removeprefix(prefix)))

    chunks = tuple(load(n).deploy(env=env) for n in numbered(f"{contract_name}Chunk"))
    groups = tuple(load(n).deploy(env=env) for n in numbered(f"{contract_name}Periodic"))
    ood = load(f"{contract_name}Ood").deploy(
        [c.address for c in chunks], [g.address for g in groups], env=env
    )
    merkle = load(f"{contract_name}Merkle").deploy(env=env)
    deep = load(f"{contract_name}Deep").deploy(env=env)
    fri = load(f"{contract_name}Fri").deploy(env=env)
    core = load(contract_name).deploy(
        ood.address, merkle.address, deep.address, fri.address, env=env
    )
    return VerifierContracts(
        core=core,
        merkle=merkle,
        deep=deep,
        fri=fri,
        ood=ood,
        chunks=chunks,
        periodic_groups=groups,
    )


def deploy_verifier(env: Any, air: Air, sources: dict[str, str], contract_name: str) -> Any:
    """Compile and deploy the contracts of :func:`render_verifier`; return the core verifier."""
    return deploy_verifier_contracts(env, air, sources, contract_name).core


_MASK64 = (1 << 64) - 1

_DEEP_UNROLLED_WORDS = 38


def _render_row_reads(buf: str, base: str, n: int, pad: str) -> list[tuple[list[str], list[str]]]:
    # Read the n consecutive 8-byte field elements of a row at byte ``base`` of ``buf``: four
    # to an extract32 (the last, partial group from the word that ends at the row's end; rows
    # shorter than a word one slice per element, all in one group). Returns, per group, the
    # lines that set its locals and the locals' names, one per element in order (an extension
    # element's two halves always fall in the same group).
    if n < 4:
        names = [f"u{i}" for i in range(n)]
        lines = [
            f"{pad}{name} = convert(slice({buf}, {base} + {8 * i}, 8), uint256)"
            for i, name in enumerate(names)
        ]
        return [(lines, names)] if n else []

    def lane(w: int) -> str:
        shift = 192 - 64 * w
        return (
            "w >> 192" if w == 0 else f"(w >> {shift}) & {_MASK64}" if shift else f"w & {_MASK64}"
        )

    groups = []
    for start in range(0, n - n % 4, 4):
        lines = [f"{pad}w = extract32({buf}, {base} + {8 * start}, output_type=uint256)"]
        lines += [f"{pad}u{k} = {lane(k)}" for k in range(4)]
        groups.append((lines, [f"u{k}" for k in range(4)]))
    tail = n % 4
    if tail:
        lines = [f"{pad}w = extract32({buf}, {base} + {8 * (n - 4)}, output_type=uint256)"]
        lines += [f"{pad}u{j} = {lane(4 - tail + j)}" for j in range(tail)]
        groups.append((lines, [f"u{j}" for j in range(tail)]))
    return groups


def _render_sum(terms: list[str]) -> str:
    acc = terms[-1]
    for term in reversed(terms[:-1]):
        acc = f"unsafe_add({term}, {acc})"
    return acc


def _render_deep_rows(air: Air) -> str:
    # The per-query body of the DEEP composition, unrolled over the columns: each row's values
    # read at literal offsets, checked canonical (v < P iff v + 2^32 - 1 < 2^64, OR-ed into
    # ``bad``), and multiplied into the four unreduced sums (products < 2^131).
    w, a, cw = air.trace_width, air.aux_width, get_composition_width(air)
    pad = " " * 8
    lines: list[str] = []

    def emit(groups: list[tuple[list[str], list[str]]], terms_of: Any) -> None:
        first = 0
        for group_lines, names in groups:
            lines.extend(group_lines)
            checks = " | ".join(f"unsafe_add({n}, 4294967295)" for n in names)
            lines.append(f"{pad}bad = bad | {checks}")
            sums: dict[str, list[str]] = {"sz0": [], "sz1": [], "sg0": [], "sg1": []}
            terms_of(first, names, sums)
            for acc, terms in sums.items():
                if terms:
                    lines.append(f"{pad}{acc} = unsafe_add({acc}, {_render_sum(terms)})")
            first += len(names)

    def main_terms(first: int, names: list[str], sums: dict[str, list[str]]) -> None:
        for i, v in enumerate(names):
            k = 4 * (first + i)
            for j, acc in enumerate(("sz0", "sz1", "sg0", "sg1")):
                sums[acc].append(f"unsafe_mul(deep[{k + j}], {v})")

    def ext_terms(base: int, stride: int, accs: tuple[str, ...]) -> Any:
        def terms(first: int, names: list[str], sums: dict[str, list[str]]) -> None:
            for i in range(0, len(names), 2):
                v0, v1 = names[i], names[i + 1]
                k = base + stride * ((first + i) // 2)
                for j in range(0, len(accs), 2):
                    c0, c1 = accs[j], accs[j + 1]
                    d0, d1 = f"deep[{k + j}]", f"deep[{k + j + 1}]"
                    sums[c0] += [
                        f"unsafe_mul({d0}, {v0})",
                        f"unsafe_mul({d1}, unsafe_mul(7, {v1}))",
                    ]
                    sums[c1] += [f"unsafe_mul({d0}, {v1})", f"unsafe_mul({d1}, {v0})"]

        return terms

    # The first words of the row unrolled with literal indices, as many as the contract's
    # code size allows (about 370 bytes a word); the rest in a loop, each column's four
    # coefficients packed in one word of ``dm``; the last, partial word unrolled.
    unrolled = max(0, min(w // 4, _DEEP_UNROLLED_WORDS - (2 * a + 2 * cw + 3) // 4))
    if w < 4 or unrolled == w // 4:
        emit(_render_row_reads("mainRows", "mb", w, pad), main_terms)
    else:
        emit(_render_row_reads("mainRows", "mb", w, pad)[:unrolled], main_terms)
        m64 = f"{_MASK64}"
        lines.append(f"{pad}for g: uint256 in range({unrolled}, {w // 4}):")
        inner = pad + "    "
        lines.append(f"{inner}w = extract32(mainRows, mb + 32 * g, output_type=uint256)")
        lines.append(f"{inner}u0 = w >> 192")
        lines.append(f"{inner}u1 = (w >> 128) & {m64}")
        lines.append(f"{inner}u2 = (w >> 64) & {m64}")
        lines.append(f"{inner}u3 = w & {m64}")
        checks = " | ".join(f"unsafe_add(u{k}, 4294967295)" for k in range(4))
        lines.append(f"{inner}bad = bad | {checks}")
        for k in range(4):
            lines.append(f"{inner}d{k} = dm[4 * g + {k}]")
        for acc, part in (
            ("sz0", "d{k} >> 192"),
            ("sz1", "(d{k} >> 128) & M"),
            ("sg0", "(d{k} >> 64) & M"),
            ("sg1", "d{k} & M"),
        ):
            terms = [f"unsafe_mul({part.format(k=k).replace('M', m64)}, u{k})" for k in range(4)]
            lines.append(f"{inner}{acc} = unsafe_add({acc}, {_render_sum(terms)})")
        tail = w % 4
        if tail:
            names = [f"u{j}" for j in range(tail)]
            group = [f"{pad}w = extract32(mainRows, mb + {8 * (w - 4)}, output_type=uint256)"]
            for j in range(tail):
                shift = 192 - 64 * (4 - tail + j)
                group.append(
                    f"{pad}u{j} = (w >> {shift}) & {m64}" if shift else f"{pad}u{j} = w & {m64}"
                )
            lines.extend(group)
            checks = " | ".join(f"unsafe_add({n}, 4294967295)" for n in names)
            lines.append(f"{pad}bad = bad | {checks}")
            sums: dict[str, list[str]] = {"sz0": [], "sz1": [], "sg0": [], "sg1": []}
            main_terms(w - tail, names, sums)
            for acc, terms in sums.items():
                lines.append(f"{pad}{acc} = unsafe_add({acc}, {_render_sum(terms)})")
    emit(
        _render_row_reads("auxRows", "ab", 2 * a, pad),
        ext_terms(4 * w, 4, ("sz0", "sz1", "sg0", "sg1")),
    )
    emit(
        _render_row_reads("compRows", "cb", 2 * cw, pad), ext_terms(4 * (w + a), 2, ("sz0", "sz1"))
    )
    return "\n".join(lines)


def _render_fri_leaf_read(factor: int) -> str:
    # one FRI leaf (FOLD extension values) read at literal offsets from ``at``, each checked
    # canonical (OR-ed into ``leafBad``) and appended to ``layerVals``
    pad = " " * 12
    lines = []
    for group_lines, names in _render_row_reads("proof", "at", 2 * factor, pad):
        lines += group_lines
        checks = " | ".join(f"unsafe_add({n}, 4294967295)" for n in names)
        lines.append(f"{pad}leafBad = leafBad | {checks}")
        lines += [f"{pad}layerVals.append({n})" for n in names]
    return "\n".join(lines)


def _render_remainder_absorb(air: Air, options: ProofOptions) -> str:
    # The transcript absorbs the remainder's bytes. A slice of the proof with a run-time length
    # is typed as large as the proof (a buffer that size, and memory gas); when the bytes
    # after the remainder always outnumber its bound (the nonce and the queried rows follow),
    # a slice of the bound's literal length is taken and cut to the real length instead.
    rows = options.n_queries * (8 * air.trace_width + 16 * get_composition_width(air))
    bound = 16 * (options.fri_max_remainder_degree + 1)
    if 16 + 8 + rows + 4 >= bound:
        return (
            "    st = keccak256(slice(concat(st, slice(proof, remStart, 16 * REM_BOUND)), 0, "
            "32 + 16 * remLen))"
        )
    return "    st = keccak256(concat(st, slice(proof, remStart, 16 * remLen)))"


def _render_merkle_root_body(pad: str, nodes: str, indices: str, leaves: str, fresh: bool) -> str:
    # The multi-opening loop, shared by ``_root`` and the inlined copy in ``checkOpenings``:
    # leaves at sorted indices hashed up to the root in ``dig[0]``.
    body = """    # the opening's sibling nodes are the count 32-byte words at byte ``at`` of ``nodes``
    m: uint256 = len(indices)
    assert m == len(leaves) and m > 0, "Merkle opening shape"
    assert depth <= MAX_DEPTH, "Merkle depth"
    assert at + 32 * count <= len(nodes), "Merkle nodes"
    idx: uint256[NQ] = empty(uint256[NQ])
    dig: bytes32[NQ] = empty(bytes32[NQ])
    for i: uint256 in range(NQ):
        if i >= m:
            break
        idx[i] = indices[i]
        dig[i] = leaves[i]
    cursor: uint256 = 0
    for level: uint256 in range(MAX_DEPTH):
        if level >= depth:
            break
        # parents are written in place: slot j <= the slot i being read
        i: uint256 = 0
        j: uint256 = 0
        for _: uint256 in range(NQ):
            if i >= m:
                break
            index: uint256 = idx[i]
            paired: bool = False
            if index & 1 == 0 and i + 1 < m:
                paired = idx[i + 1] == index + 1
            if paired:
                dig[j] = keccak256(concat(dig[i], dig[i + 1]))
                i += 2
            else:
                # (a read past this opening's nodes makes the final count check fail)
                sibling: bytes32 = extract32(nodes, at + 32 * cursor)
                cursor += 1
                if index & 1 == 0:
                    dig[j] = keccak256(concat(dig[i], sibling))
                else:
                    dig[j] = keccak256(concat(sibling, dig[i]))
                i += 1
            idx[j] = index >> 1
            j += 1
        m = j
    assert cursor == count, "Merkle opening has unused nodes"
    assert m == 1 and idx[0] == 0, "Merkle indices out of range"
"""
    body = body.replace("len(indices)", f"len({indices})").replace("len(leaves)", f"len({leaves})")
    body = body.replace("indices[i]", f"{indices}[i]").replace("leaves[i]", f"{leaves}[i]")
    body = body.replace("len(nodes)", f"len({nodes})").replace(
        "extract32(nodes,", f"extract32({nodes},"
    )
    if not fresh:
        body = body.replace("    idx: uint256[NQ] = empty(uint256[NQ])\n", "")
        body = body.replace("    dig: bytes32[NQ] = empty(bytes32[NQ])\n", "")
    return "\n".join(pad + line[4:] if line else line for line in body.rstrip("\n").split("\n"))


def _render_fold_body(factor: int) -> str:
    # straight-line inverse DFT of one coset (twiddles as literals), then Horner in beta / x
    w = _fold_root_inv(factor)
    pad = " " * 8
    lines = []
    for k in range(factor):
        lines.append(f"{pad}v{k}_0: uint256 = vals[k0 + {2 * k}]")
        lines.append(f"{pad}v{k}_1: uint256 = vals[k0 + {2 * k + 1}]")
    for t in range(factor):
        for part in (0, 1):
            terms = []
            for k in range(factor):
                tw = pow(w, (k * t) % factor, P)
                terms.append(f"v{k}_{part}" if tw == 1 else f"unsafe_mul(v{k}_{part}, {tw})")
            acc = terms[0]
            for term in terms[1:]:
                acc = f"unsafe_add({acc}, {term})"
            lines.append(f"{pad}t{t}_{part}: uint256 = {acc} % P")
    top = factor - 1
    lines.append(f"{pad}a0: uint256 = t{top}_0")
    lines.append(f"{pad}a1: uint256 = t{top}_1")
    for t in range(factor - 2, -1, -1):
        lines.append(
            f"{pad}h0 = uint256_addmod(uint256_addmod(uint256_mulmod(a0, g0, P), "
            f"uint256_mulmod(7, uint256_mulmod(a1, g1, P), P), P), t{t}_0, P)"
            if t != factor - 2
            else f"{pad}h0: uint256 = uint256_addmod(uint256_addmod(uint256_mulmod(a0, g0, P), "
            f"uint256_mulmod(7, uint256_mulmod(a1, g1, P), P), P), t{t}_0, P)"
        )
        lines.append(
            f"{pad}a1 = uint256_addmod(uint256_addmod(uint256_mulmod(a0, g1, P), "
            f"uint256_mulmod(a1, g0, P), P), t{t}_1, P)"
        )
        lines.append(f"{pad}a0 = h0")
    return "\n".join(lines)


def _fold_root_inv(factor: int) -> int:
    return pow(int(get_root_of_unity(factor.bit_length() - 1)), P - 2, P)


def _guard_empty_ranges(source: str) -> str:
    # Vyper rejects range(0); loops whose bound may be zero (no aux columns, no boundaries,
    # no challenges) run to bound + 1 and break at the bound instead.
    pattern = re.compile(r"^( *)for (\w+): uint256 in range\((2 \* A|A|NB|2 \* NCH)\):$", re.M)
    return pattern.sub(
        lambda m: (
            f"{m[1]}for {m[2]}: uint256 in range({m[3]} + 1):\n"
            f"{m[1]}    if {m[2]} >= {m[3]}:\n{m[1]}        break"
        ),
        source,
    )


def write_verifier(air: Air, options: ProofOptions, contract_name: str) -> list[Path]:
    """Write every contract of the verifier to ``contracts/generated/``; return the paths."""
    paths = []
    for name, source in render_verifier(air, options, contract_name=contract_name).items():
        path = GENERATED_DIR / f"{name}.vy"
        path.write_text(source)
        paths.append(path)
    return paths


def main() -> None:
    """Rewrite the generated verifier of the Fibonacci example (minimal preset)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from examples.fibonacci import FIBONACCI_AIR

    from starkperp.stark.options import PRESETS

    for path in write_verifier(FIBONACCI_AIR, PRESETS["minimal"], "FibonacciVerifier"):
        print(f"wrote {path}")


# Goldilocks and extension-field arithmetic shared by the core and OOD contracts.
_FIELD_ARITHMETIC = """# ---------------------------------------------------------------- field arithmetic


@internal
@view
def _pow(b: uint256, e: uint256) -> uint256:
    out: Bytes[32] = raw_call(
        0x0000000000000000000000000000000000000005,
        concat(
            convert(32, bytes32),
            convert(32, bytes32),
            convert(32, bytes32),
            convert(b, bytes32),
            convert(e, bytes32),
            convert(P, bytes32),
        ),
        max_outsize=32,
        is_static_call=True,
    )
    return convert(out, uint256)


@internal
@view
def _inv(a: uint256) -> uint256:
    assert a != 0, "inverse of zero"
    return self._pow(a, P - 2)


@internal
@view
def _root(logM: uint256) -> uint256:
    return self._pow(ROOT32, 1 << (32 - logM))


@internal
@pure
def _emul(a0: uint256, a1: uint256, b0: uint256, b1: uint256) -> (uint256, uint256):
    return (
        uint256_addmod(uint256_mulmod(a0, b0, P), uint256_mulmod(7, uint256_mulmod(a1, b1, P), P), P),
        uint256_addmod(uint256_mulmod(a0, b1, P), uint256_mulmod(a1, b0, P), P),
    )


@internal
@view
def _einv(a0: uint256, a1: uint256) -> (uint256, uint256):
    norm: uint256 = uint256_addmod(
        uint256_mulmod(a0, a0, P), P - uint256_mulmod(7, uint256_mulmod(a1, a1, P), P), P
    )
    ni: uint256 = self._inv(norm)
    return uint256_mulmod(a0, ni, P), uint256_mulmod((P - a1) % P, ni, P)


@internal
@pure
def _epow2(a0: uint256, a1: uint256, e: uint256) -> (uint256, uint256):
    # a^e for e a power of two (or 1): repeated squaring
    r0: uint256 = a0
    r1: uint256 = a1
    k: uint256 = e
    for _: uint256 in range(64):
        if k <= 1:
            break
        r0, r1 = self._emul(r0, r1, r0, r1)
        k = k >> 1
    return r0, r1"""


# Protocol and frame-size constants every generated contract that reads a frame declares.
_PROTOCOL_CONSTANTS = """P: constant(uint256) = 18446744069414584321
W: constant(uint256) = {{W}}
A: constant(uint256) = {{A}}
CW: constant(uint256) = {{CW}}
NQ: constant(uint256) = {{NQ}}
FOLD: constant(uint256) = {{FOLD}}
LOG_FOLD: constant(uint256) = {{LOG_FOLD}}
BLOWUP: constant(uint256) = {{BLOWUP}}
LOG_BLOWUP: constant(uint256) = {{LOG_BLOWUP}}
GRINDING: constant(uint256) = {{GRINDING}}
REM_BOUND: constant(uint256) = {{REM_BOUND}}
NPUB: constant(uint256) = {{NPUB}}
NCH: constant(uint256) = {{NCH}}
NT: constant(uint256) = {{NT}}
NB: constant(uint256) = {{NB}}
NCOEF: constant(uint256) = {{NCOEF}}
NPER: constant(uint256) = {{NPER}}
AIR_DIGEST: constant(bytes32) = {{AIR_DIGEST}}
TAG_STATE: constant(bytes32) = {{TAG_STATE}}
DOMAIN_OFFSET: constant(uint256) = {{DOMAIN_OFFSET}}
ROOT32: constant(uint256) = {{ROOT32}}
FOLD_INV: constant(uint256) = {{FOLD_INV}}
FOLD_ROOT_INV: constant(uint256) = {{FOLD_ROOT_INV}}
MAX_PROOF: constant(uint256) = {{MAX_PROOF}}

MAX_PUBLIC: constant(uint256) = NPUB + 1
FRAME_MAIN: constant(uint256) = 2 * W
FRAME_AUX: constant(uint256) = 2 * A + 2
FRAME_COMP: constant(uint256) = 2 * CW
FRAME_PERIODIC: constant(uint256) = 2 * NPER + 2
FRAME_CHALLENGES: constant(uint256) = 2 * NCH + 2
FRAME_COEFFICIENTS: constant(uint256) = 2 * NCOEF
FRAME_BOUNDARIES: constant(uint256) = 2 * NB + 2
FRAME_DEEP: constant(uint256) = 4 * (W + A) + 2 * CW
MAX_LAYERS: constant(uint256) = {{MAX_LAYERS}}
MAX_OPENINGS: constant(uint256) = MAX_LAYERS + 3
MAX_DEPTH: constant(uint256) = 32
MAX_NODES: constant(uint256) = NQ * MAX_DEPTH
MAX_FRI_NODES: constant(uint256) = NQ * 200
MAX_DRAWS: constant(uint256) = 16 * NQ
ROW_BYTES: constant(uint256) = 8 * W
AUX_ROW_BYTES: constant(uint256) = {{AUX_ROW_BYTES}}
COMP_ROW_BYTES: constant(uint256) = 16 * CW
OOD_BYTES: constant(uint256) = 16 * (2 * W + 2 * A + CW)
LEAF_BYTES: constant(uint256) = 16 * FOLD"""


_CORE_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}
@notice On-chain verifier of starkperp STARK proofs (version 1) of the AIR "{{AIR_NAME}}":
        keccak transcript, keccak Merkle multi-openings, DEEP composition, FRI; the
        out-of-domain constraint identity is checked by the generated {{NAME}}Ood contract.
        A proof that does not verify reverts with the name of the failed check.
"""

{{PROTOCOL_CONSTANTS}}


interface IOod:
    def check(
        z0: uint256,
        z1: uint256,
        logN: uint256,
        mc: uint256[FRAME_MAIN],
        mn: uint256[FRAME_MAIN],
        ac: uint256[FRAME_AUX],
        an: uint256[FRAME_AUX],
        hz: uint256[FRAME_COMP],
        pub: uint256[MAX_PUBLIC],
        ch: uint256[FRAME_CHALLENGES],
        alphas: uint256[FRAME_COEFFICIENTS],
    ) -> bool: view


interface IMerkle:
    def checkOpenings(
        proof: Bytes[MAX_PROOF],
        roots: DynArray[bytes32, MAX_OPENINGS],
        depths: DynArray[uint256, MAX_OPENINGS],
        indices: DynArray[DynArray[uint256, NQ], MAX_OPENINGS],
        leaves: DynArray[DynArray[bytes32, NQ], MAX_OPENINGS],
        ats: DynArray[uint256, MAX_OPENINGS],
        counts: DynArray[uint256, MAX_OPENINGS],
    ) -> bool: view
    def checkStatements(
        roots: DynArray[bytes32, MAX_OPENINGS],
        depths: DynArray[uint256, MAX_OPENINGS],
        indices: DynArray[DynArray[uint256, NQ], MAX_OPENINGS],
        leaves: DynArray[DynArray[bytes32, NQ], MAX_OPENINGS],
    ) -> bool: view


interface IDeep:
    def evaluate(
        positions: DynArray[uint256, NQ],
        gen: uint256,
        z0: uint256,
        z1: uint256,
        zg0: uint256,
        zg1: uint256,
        mainRows: Bytes[NQ * ROW_BYTES],
        auxRows: Bytes[NQ * AUX_ROW_BYTES],
        compRows: Bytes[NQ * COMP_ROW_BYTES],
        mc: uint256[FRAME_MAIN],
        mn: uint256[FRAME_MAIN],
        ac: uint256[FRAME_AUX],
        an: uint256[FRAME_AUX],
        hz: uint256[FRAME_COMP],
        deep: uint256[FRAME_DEEP],
    ) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]): view


interface IFri:
    def fold(
        vals: DynArray[uint256, NQ * 2 * FOLD],
        idx: DynArray[uint256, NQ],
        offset: uint256,
        generator: uint256,
        b0: uint256,
        b1: uint256,
    ) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]): view
    def evaluateRemainder(
        positions: DynArray[uint256, NQ],
        offset: uint256,
        generator: uint256,
        coefficients: uint256[2 * REM_BOUND],
    ) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]): view


ood: public(immutable(address))
merkle: public(immutable(address))
deepComposer: public(immutable(address))
friFolder: public(immutable(address))
verifiedFacts: public(HashMap[bytes32, bool])


@deploy
def __init__(_ood: address, _merkle: address, _deep: address, _fri: address):
    ood = _ood
    merkle = _merkle
    deepComposer = _deep
    friFolder = _fri


{{FIELD_ARITHMETIC}}


# ---------------------------------------------------------------- transcript


@internal
@pure
def _draw(state: bytes32, counter: uint256) -> uint256:
    return convert(keccak256(concat(state, convert(convert(counter, uint64), bytes8))), uint256)


# ---------------------------------------------------------------- the verifier


@internal
@view
def _verify(proof: Bytes[MAX_PROOF], pub: DynArray[uint256, MAX_PUBLIC], split: bool):
    assert len(pub) == NPUB, "public input count"
    pubf: uint256[MAX_PUBLIC] = empty(uint256[MAX_PUBLIC])
    for i: uint256 in range(NPUB + 1):
        if i >= NPUB:
            break
        assert pub[i] < P, "public input not canonical"
        pubf[i] = pub[i]

    # Stage 0: header and shape.
    o: uint256 = 0
    assert len(proof) >= 11, "malformed proof"
    assert convert(slice(proof, 0, 1), uint256) == 1, "bad proof version"
    logN: uint256 = convert(slice(proof, 1, 1), uint256)
    assert convert(slice(proof, 2, 2), uint256) == W, "main width"
    assert convert(slice(proof, 4, 2), uint256) == A, "aux width"
    assert convert(slice(proof, 6, 2), uint256) == CW, "composition width"
    assert convert(slice(proof, 8, 2), uint256) == NQ, "query count"
    assert convert(slice(proof, 10, 1), uint256) == FOLD, "folding factor"
    assert logN >= 3 and logN <= 28, "trace length"
    n: uint256 = 1 << logN
    size: uint256 = n * BLOWUP
    logSize: uint256 = logN + LOG_BLOWUP
    assert size >= 4 * NQ, "domain too small"
    nLayers: uint256 = 0
    remLen: uint256 = n
    for _: uint256 in range(MAX_LAYERS):
        if remLen <= REM_BOUND:
            break
        remLen = max(remLen // FOLD, 1)
        nLayers += 1
    o = 11
    mainRoot: bytes32 = extract32(proof, o)
    o += 32
    auxRoot: bytes32 = empty(bytes32)
    if A > 0:
        auxRoot = extract32(proof, o)
        o += 32
    compRoot: bytes32 = extract32(proof, o)
    o += 32

    oodStart: uint256 = o
    mc: uint256[FRAME_MAIN] = empty(uint256[FRAME_MAIN])
    mn: uint256[FRAME_MAIN] = empty(uint256[FRAME_MAIN])
    ac: uint256[FRAME_AUX] = empty(uint256[FRAME_AUX])
    an: uint256[FRAME_AUX] = empty(uint256[FRAME_AUX])
    hz: uint256[FRAME_COMP] = empty(uint256[FRAME_COMP])
    for i: uint256 in range(FRAME_MAIN):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        mc[i] = v
        o += 8
    for i: uint256 in range(FRAME_MAIN):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        mn[i] = v
        o += 8
    for i: uint256 in range(2 * A):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        ac[i] = v
        o += 8
    for i: uint256 in range(2 * A):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        an[i] = v
        o += 8
    for i: uint256 in range(FRAME_COMP):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        hz[i] = v
        o += 8
    oodBytes: Bytes[OOD_BYTES] = slice(proof, oodStart, OOD_BYTES)

    assert convert(slice(proof, o, 1), uint256) == nLayers, "FRI layer count"
    o += 1
    friRoots: DynArray[bytes32, MAX_LAYERS] = []
    for i: uint256 in range(MAX_LAYERS):
        if i >= nLayers:
            break
        friRoots.append(extract32(proof, o))
        o += 32
    assert convert(slice(proof, o, 2), uint256) == remLen, "FRI remainder length"
    o += 2
    remStart: uint256 = o
    remainder: uint256[2 * REM_BOUND] = empty(uint256[2 * REM_BOUND])
    for i: uint256 in range(2 * REM_BOUND):
        if i >= 2 * remLen:
            break
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        remainder[i] = v
        o += 8
    nonceBytes: bytes8 = convert(slice(proof, o, 8), bytes8)
    o += 8

    # rows (leaf hashes are keccak256 of the row bytes in the proof) and their openings
    # (the rows' values are read, and checked canonical, by the DEEP contract)
    mainStart: uint256 = o
    mainLeaves: DynArray[bytes32, NQ] = []
    for q: uint256 in range(NQ):
        mainLeaves.append(keccak256(slice(proof, o, ROW_BYTES)))
        o += ROW_BYTES
    mainNodes: uint256 = convert(slice(proof, o, 2), uint256)
    mainAt: uint256 = o + 2
    o = mainAt + 32 * mainNodes
    auxStart: uint256 = o
    auxLeaves: DynArray[bytes32, NQ] = []
    auxNodes: uint256 = 0
    auxAt: uint256 = 0
    if A > 0:
        for q: uint256 in range(NQ):
            auxLeaves.append(keccak256(slice(proof, o, AUX_ROW_BYTES)))
            o += AUX_ROW_BYTES
        auxNodes = convert(slice(proof, o, 2), uint256)
        auxAt = o + 2
        o = auxAt + 32 * auxNodes
    compStart: uint256 = o
    compLeaves: DynArray[bytes32, NQ] = []
    for q: uint256 in range(NQ):
        compLeaves.append(keccak256(slice(proof, o, COMP_ROW_BYTES)))
        o += COMP_ROW_BYTES
    compNodes: uint256 = convert(slice(proof, o, 2), uint256)
    compAt: uint256 = o + 2
    o = compAt + 32 * compNodes

    friLeafCount: DynArray[uint256, MAX_LAYERS] = []
    friNodeCount: DynArray[uint256, MAX_LAYERS] = []
    friNodeAt: DynArray[uint256, MAX_LAYERS] = []
    friLeafAt: DynArray[uint256, MAX_LAYERS] = []
    for layer: uint256 in range(MAX_LAYERS):
        if layer >= nLayers:
            break
        nl: uint256 = convert(slice(proof, o, 2), uint256)
        o += 2
        assert nl >= 1 and nl <= NQ, "FRI leaf count"
        friLeafCount.append(nl)
        friLeafAt.append(o)
        o += nl * LEAF_BYTES
        nn: uint256 = convert(slice(proof, o, 2), uint256)
        o += 2
        friNodeCount.append(nn)
        friNodeAt.append(o)
        o += 32 * nn
    assert o == len(proof), "malformed proof: trailing bytes"

    # Stage 1: the transcript.
    st: bytes32 = keccak256(
        concat(
            TAG_STATE,
            AIR_DIGEST,
            convert(convert(logN, uint64), bytes8),
            convert(convert(BLOWUP, uint64), bytes8),
            convert(convert(NQ, uint64), bytes8),
            convert(convert(GRINDING, uint64), bytes8),
            convert(convert(FOLD, uint64), bytes8),
            convert(convert(REM_BOUND - 1, uint64), bytes8),
            convert(convert(NPUB, uint64), bytes8),{{PUB_CONCAT}}
        )
    )
    ctr: uint256 = 0
    st = keccak256(concat(st, mainRoot))
    ch: uint256[FRAME_CHALLENGES] = empty(uint256[FRAME_CHALLENGES])
    if A > 0:
        for i: uint256 in range(2 * NCH):
            ch[i] = self._draw(st, ctr) % P
            ctr += 1
        st = keccak256(concat(st, auxRoot))
        ctr = 0
    alphas: uint256[FRAME_COEFFICIENTS] = empty(uint256[FRAME_COEFFICIENTS])
    for i: uint256 in range(FRAME_COEFFICIENTS):
        alphas[i] = convert(keccak256(concat(st, convert(convert(ctr, uint64), bytes8))), uint256) % P
        ctr += 1
    st = keccak256(concat(st, compRoot))
    ctr = 0
    z0: uint256 = 0
    z1: uint256 = 0
    for i: uint256 in range(16):
        z0 = self._draw(st, ctr) % P
        z1 = self._draw(st, ctr + 1) % P
        ctr += 2
        if z1 != 0:
            break
    assert z1 != 0, "no out-of-domain point"
    st = keccak256(concat(st, oodBytes))
    ctr = 0
    deep: uint256[FRAME_DEEP] = empty(uint256[FRAME_DEEP])
    for i: uint256 in range(FRAME_DEEP):
        deep[i] = convert(keccak256(concat(st, convert(convert(ctr, uint64), bytes8))), uint256) % P
        ctr += 1
    betas: DynArray[uint256, 2 * MAX_LAYERS] = []
    for root: bytes32 in friRoots:
        st = keccak256(concat(st, root))
        ctr = 0
        betas.append(self._draw(st, 0) % P)
        betas.append(self._draw(st, 1) % P)
{{REMAINDER_ABSORB}}
    ctr = 0
    if GRINDING > 0:
        work: uint256 = convert(keccak256(concat(st, nonceBytes)), uint256)
        assert work >> (256 - GRINDING) == 0, "proof of work"
    st = keccak256(concat(st, nonceBytes))
    ctr = 0
    positions: DynArray[uint256, NQ] = []
    for i: uint256 in range(MAX_DRAWS):
        if len(positions) == NQ:
            break
        index: uint256 = self._draw(st, ctr) % size
        ctr += 1
        fresh: bool = True
        for seen: uint256 in positions:
            if seen == index:
                fresh = False
        if fresh:
            positions.append(index)
    assert len(positions) == NQ, "query sampling"
    for i: uint256 in range(1, NQ):
        key: uint256 = positions[i]
        j: uint256 = i
        for _: uint256 in range(NQ):
            if j == 0:
                break
            if positions[j - 1] <= key:
                break
            positions[j] = positions[j - 1]
            j -= 1
        positions[j] = key

    # Check A: the out-of-domain identity (generated contracts).
    g: uint256 = self._root(logN)
    assert staticcall IOod(ood).check(z0, z1, logN, mc, mn, ac, an, hz, pubf, ch, alphas), "out-of-domain mismatch"

    # Check B: trace and composition openings, collected here and checked together with the
    # FRI layers' at the end, in one call to the Merkle contract (split: as Merkle statements
    # it verified in earlier transactions).
    mRoots: DynArray[bytes32, MAX_OPENINGS] = [mainRoot]
    mDepths: DynArray[uint256, MAX_OPENINGS] = [logSize]
    mIdx: DynArray[DynArray[uint256, NQ], MAX_OPENINGS] = [positions]
    opLeaves: DynArray[DynArray[bytes32, NQ], MAX_OPENINGS] = [mainLeaves]
    mAt: DynArray[uint256, MAX_OPENINGS] = [mainAt]
    mCount: DynArray[uint256, MAX_OPENINGS] = [mainNodes]
    if A > 0:
        mRoots.append(auxRoot)
        mDepths.append(logSize)
        mIdx.append(positions)
        opLeaves.append(auxLeaves)
        mAt.append(auxAt)
        mCount.append(auxNodes)
    mRoots.append(compRoot)
    mDepths.append(logSize)
    mIdx.append(positions)
    opLeaves.append(compLeaves)
    mAt.append(compAt)
    mCount.append(compNodes)

    # Check C: DEEP composition at the queries, then FRI.
    zg0: uint256 = uint256_mulmod(z0, g, P)
    zg1: uint256 = uint256_mulmod(z1, g, P)
    gen: uint256 = self._root(logSize)
    curPos: DynArray[uint256, NQ] = positions
    cur0: DynArray[uint256, NQ] = []
    cur1: DynArray[uint256, NQ] = []
    auxRows: Bytes[NQ * AUX_ROW_BYTES] = b""
    if A > 0:
        auxRows = slice(proof, auxStart, NQ * AUX_ROW_BYTES)
    cur0, cur1 = staticcall IDeep(deepComposer).evaluate(
        positions,
        gen,
        z0,
        z1,
        zg0,
        zg1,
        slice(proof, mainStart, NQ * ROW_BYTES),
        auxRows,
        slice(proof, compStart, NQ * COMP_ROW_BYTES),
        mc,
        mn,
        ac,
        an,
        hz,
        deep,
    )

    m: uint256 = size
    logM: uint256 = logSize
    leafBad: uint256 = 0
    offset: uint256 = DOMAIN_OFFSET
    for layer: uint256 in range(MAX_LAYERS):
        if layer >= nLayers:
            break
        mLeaves: uint256 = m // FOLD
        # leaf indices: sorted distinct images of the current positions
        idx: DynArray[uint256, NQ] = []
        for p: uint256 in curPos:
            j: uint256 = p % mLeaves
            fresh: bool = True
            for s: uint256 in idx:
                if s == j:
                    fresh = False
            if fresh:
                idx.append(j)
        for i: uint256 in range(1, NQ):
            if i >= len(idx):
                break
            key: uint256 = idx[i]
            j: uint256 = i
            for _: uint256 in range(NQ):
                if j == 0:
                    break
                if idx[j - 1] <= key:
                    break
                idx[j] = idx[j - 1]
                j -= 1
            idx[j] = key
        assert friLeafCount[layer] == len(idx), "FRI leaf count"
        # the layer's leaves, read from the proof (leaf hashes over their bytes)
        at: uint256 = friLeafAt[layer]
        layerVals: DynArray[uint256, NQ * 2 * FOLD] = []
        w: uint256 = 0
        u0: uint256 = 0
        u1: uint256 = 0
        u2: uint256 = 0
        u3: uint256 = 0
        layerLeaves: DynArray[bytes32, NQ] = []
        for s: uint256 in range(NQ):
            if s >= len(idx):
                break
            layerLeaves.append(keccak256(slice(proof, at, LEAF_BYTES)))
{{FRI_LEAF_READ}}
            at += LEAF_BYTES
        for q: uint256 in range(NQ):
            if q >= len(curPos):
                break
            p: uint256 = curPos[q]
            j: uint256 = p % mLeaves
            slot: uint256 = p // mLeaves
            li: uint256 = 0
            for s: uint256 in range(NQ):
                if s >= len(idx):
                    break
                if idx[s] == j:
                    li = s
                    break
            base: uint256 = 2 * FOLD * li + 2 * slot
            if layer == 0:
                assert layerVals[base] == cur0[q] and layerVals[base + 1] == cur1[q], "DEEP mismatch"
            else:
                assert layerVals[base] == cur0[q] and layerVals[base + 1] == cur1[q], "FRI folding"
        mRoots.append(friRoots[layer])
        mDepths.append(logM - LOG_FOLD)
        mIdx.append(idx)
        opLeaves.append(layerLeaves)
        mAt.append(friNodeAt[layer])
        mCount.append(friNodeCount[layer])
        cur0, cur1 = staticcall IFri(friFolder).fold(
            layerVals, idx, offset, self._root(logM), betas[2 * layer], betas[2 * layer + 1]
        )
        curPos = idx
        offset = self._pow(offset, FOLD)
        m = mLeaves
        logM -= LOG_FOLD
    rem0: DynArray[uint256, NQ] = []
    rem1: DynArray[uint256, NQ] = []
    rem0, rem1 = staticcall IFri(friFolder).evaluateRemainder(curPos, offset, self._root(logM), remainder)
    for q: uint256 in range(NQ):
        if q >= len(curPos):
            break
        assert rem0[q] == cur0[q] and rem1[q] == cur1[q], "FRI remainder"
    assert leafBad >> 64 == 0, "non-canonical field element"
    if split:
        assert staticcall IMerkle(merkle).checkStatements(mRoots, mDepths, mIdx, opLeaves), "Merkle statements"
    else:
        assert staticcall IMerkle(merkle).checkOpenings(proof, mRoots, mDepths, mIdx, opLeaves, mAt, mCount), "Merkle openings"


@external
@view
def verify(proof: Bytes[MAX_PROOF], publicInputs: DynArray[uint256, MAX_PUBLIC]) -> bool:
    """Return True if the proof verifies; revert with the failed check otherwise."""
    self._verify(proof, publicInputs, False)
    return True


@external
def verifyProof(proof: Bytes[MAX_PROOF], publicInputs: DynArray[uint256, MAX_PUBLIC]):
    """Verify and register keccak256(abi_encode(publicInputs)) as a verified fact."""
    self._verify(proof, publicInputs, False)
    self.verifiedFacts[keccak256(abi_encode(publicInputs))] = True


@external
def verifyProofSplit(proof: Bytes[MAX_PROOF], publicInputs: DynArray[uint256, MAX_PUBLIC]):
    """Verify with every Merkle opening taken from statements the Merkle contract verified in
    earlier transactions (the proof's node sections are ignored and may be empty); register
    keccak256(abi_encode(publicInputs)) as a verified fact."""
    self._verify(proof, publicInputs, True)
    self.verifiedFacts[keccak256(abi_encode(publicInputs))] = True


@external
@view
def isValid(fact: bytes32) -> bool:
    return self.verifiedFacts[fact]
'''

_MERKLE_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Merkle
@notice Keccak Merkle multi-openings of the verifier {{NAME}}: computes the root of sorted
        leaves with the proof's sibling nodes, and registers Merkle statements (root, depth,
        indices, leaf hashes) verified in their own transactions, so a proof too large for
        one transaction is verified in steps (the core's verifyProofSplit).
"""

{{PROTOCOL_CONSTANTS}}


verified: public(HashMap[bytes32, bool])


@internal
@pure
def _root(
    indices: DynArray[uint256, NQ],
    leaves: DynArray[bytes32, NQ],
    nodes: Bytes[MAX_PROOF],
    at: uint256,
    count: uint256,
    depth: uint256,
) -> bytes32:
{{MERKLE_ROOT_BODY}}
    return dig[0]


@external
@pure
def computeRoot(
    indices: DynArray[uint256, NQ], leaves: DynArray[bytes32, NQ], nodes: Bytes[MAX_PROOF], depth: uint256
) -> bytes32:
    """Return the root of the tree of 2^depth leaves holding leaves at indices (sorted)."""
    assert len(nodes) % 32 == 0, "Merkle nodes"
    return self._root(indices, leaves, nodes, 0, len(nodes) // 32, depth)


@external
@pure
def checkOpenings(
    proof: Bytes[MAX_PROOF],
    roots: DynArray[bytes32, MAX_OPENINGS],
    depths: DynArray[uint256, MAX_OPENINGS],
    indices: DynArray[DynArray[uint256, NQ], MAX_OPENINGS],
    leaves: DynArray[DynArray[bytes32, NQ], MAX_OPENINGS],
    ats: DynArray[uint256, MAX_OPENINGS],
    counts: DynArray[uint256, MAX_OPENINGS],
) -> bool:
    """Check every opening i (its sibling nodes the counts[i] words at ats[i] of the proof)
    against roots[i]; revert on the first that fails."""
    n: uint256 = len(roots)
    assert len(depths) == n and len(indices) == n and len(leaves) == n, "Merkle openings"
    assert len(ats) == n and len(counts) == n, "Merkle openings"
    idx: uint256[NQ] = empty(uint256[NQ])
    dig: bytes32[NQ] = empty(bytes32[NQ])
    for op: uint256 in range(MAX_OPENINGS):
        if op >= n:
            break
        # (the loop of _root, inlined: an internal call would copy the proof each time)
        at: uint256 = ats[op]
        count: uint256 = counts[op]
        depth: uint256 = depths[op]
{{MERKLE_CHECK_BODY}}
        assert dig[0] == roots[op], "Merkle opening"
    return True


@external
@view
def checkStatements(
    roots: DynArray[bytes32, MAX_OPENINGS],
    depths: DynArray[uint256, MAX_OPENINGS],
    indices: DynArray[DynArray[uint256, NQ], MAX_OPENINGS],
    leaves: DynArray[DynArray[bytes32, NQ], MAX_OPENINGS],
) -> bool:
    """Require every opening i to be a statement verified earlier (verifyStatement)."""
    n: uint256 = len(roots)
    assert len(depths) == n and len(indices) == n and len(leaves) == n, "Merkle statements"
    for i: uint256 in range(MAX_OPENINGS):
        if i >= n:
            break
        assert self.verified[keccak256(abi_encode(roots[i], depths[i], indices[i], leaves[i]))], "Merkle statement not verified"
    return True


@external
def verifyStatement(
    root: bytes32,
    depth: uint256,
    indices: DynArray[uint256, NQ],
    leaves: DynArray[bytes32, NQ],
    nodes: Bytes[MAX_PROOF],
):
    """Check the opening against root; register keccak256(abi_encode(root, depth, indices,
    leaves)) as a verified statement."""
    assert len(nodes) % 32 == 0, "Merkle nodes"
    assert self._root(indices, leaves, nodes, 0, len(nodes) // 32, depth) == root, "Merkle statement"
    self.verified[keccak256(abi_encode(root, depth, indices, leaves))] = True


@external
@view
def isVerified(statement: bytes32) -> bool:
    return self.verified[statement]
'''


_DEEP_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Deep
@notice The DEEP composition of the verifier {{NAME}} at the queried positions: the values
        FRI starts from, sum_c d_c (v_c - f_c(z)) / (x - z) + sum_c d'_c (v_c - f_c(zg)) / (x - zg).
"""

{{PROTOCOL_CONSTANTS}}


{{FIELD_ARITHMETIC}}


@external
@view
def evaluate(
    positions: DynArray[uint256, NQ],
    gen: uint256,
    z0: uint256,
    z1: uint256,
    zg0: uint256,
    zg1: uint256,
    mainRows: Bytes[NQ * ROW_BYTES],
    auxRows: Bytes[NQ * AUX_ROW_BYTES],
    compRows: Bytes[NQ * COMP_ROW_BYTES],
    mc: uint256[FRAME_MAIN],
    mn: uint256[FRAME_MAIN],
    ac: uint256[FRAME_AUX],
    an: uint256[FRAME_AUX],
    hz: uint256[FRAME_COMP],
    deep: uint256[FRAME_DEEP],
) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]):
    """Return the DEEP composition's values at the positions (c0 parts, c1 parts).

    The queried rows come as the proof's bytes; every value is read here (four to a word,
    at literal offsets) and checked canonical.
    """
    cur0: DynArray[uint256, NQ] = []
    cur1: DynArray[uint256, NQ] = []
    # sum_c d_c (v_c - f_c) = sum_c d_c v_c - sum_c d_c f_c: the second sums once for all
    # queries; the first with unreduced sums (products < 2^131, at most 2^16 terms)
    cz0: uint256 = 0
    cz1: uint256 = 0
    cg0: uint256 = 0
    cg1: uint256 = 0
    for c: uint256 in range(W):
        cz0 = unsafe_add(cz0, unsafe_add(unsafe_mul(deep[4 * c], mc[2 * c]), unsafe_mul(7, unsafe_mul(deep[4 * c + 1], mc[2 * c + 1]))))
        cz1 = unsafe_add(cz1, unsafe_add(unsafe_mul(deep[4 * c], mc[2 * c + 1]), unsafe_mul(deep[4 * c + 1], mc[2 * c])))
        cg0 = unsafe_add(cg0, unsafe_add(unsafe_mul(deep[4 * c + 2], mn[2 * c]), unsafe_mul(7, unsafe_mul(deep[4 * c + 3], mn[2 * c + 1]))))
        cg1 = unsafe_add(cg1, unsafe_add(unsafe_mul(deep[4 * c + 2], mn[2 * c + 1]), unsafe_mul(deep[4 * c + 3], mn[2 * c])))
    for c: uint256 in range(A):
        k: uint256 = 4 * (W + c)
        cz0 = unsafe_add(cz0, unsafe_add(unsafe_mul(deep[k], ac[2 * c]), unsafe_mul(7, unsafe_mul(deep[k + 1], ac[2 * c + 1]))))
        cz1 = unsafe_add(cz1, unsafe_add(unsafe_mul(deep[k], ac[2 * c + 1]), unsafe_mul(deep[k + 1], ac[2 * c])))
        cg0 = unsafe_add(cg0, unsafe_add(unsafe_mul(deep[k + 2], an[2 * c]), unsafe_mul(7, unsafe_mul(deep[k + 3], an[2 * c + 1]))))
        cg1 = unsafe_add(cg1, unsafe_add(unsafe_mul(deep[k + 2], an[2 * c + 1]), unsafe_mul(deep[k + 3], an[2 * c])))
    for c: uint256 in range(CW):
        k: uint256 = 4 * (W + A) + 2 * c
        cz0 = unsafe_add(cz0, unsafe_add(unsafe_mul(deep[k], hz[2 * c]), unsafe_mul(7, unsafe_mul(deep[k + 1], hz[2 * c + 1]))))
        cz1 = unsafe_add(cz1, unsafe_add(unsafe_mul(deep[k], hz[2 * c + 1]), unsafe_mul(deep[k + 1], hz[2 * c])))
    cz0 = P - cz0 % P
    cz1 = P - cz1 % P
    cg0 = P - cg0 % P
    cg1 = P - cg1 % P
    assert len(mainRows) == NQ * ROW_BYTES, "main rows"
    assert len(auxRows) == NQ * AUX_ROW_BYTES or A == 0, "aux rows"
    assert len(compRows) == NQ * COMP_ROW_BYTES, "composition rows"
    bad: uint256 = 0
    w: uint256 = 0
    d0: uint256 = 0
    d1: uint256 = 0
    d2: uint256 = 0
    d3: uint256 = 0
    # each main column's four DEEP coefficients packed in one word (all < 2^64)
    dm: uint256[W] = empty(uint256[W])
    for c: uint256 in range(W):
        dm[c] = deep[4 * c] << 192 | deep[4 * c + 1] << 128 | deep[4 * c + 2] << 64 | deep[4 * c + 3]
    u0: uint256 = 0
    u1: uint256 = 0
    u2: uint256 = 0
    u3: uint256 = 0
    for q: uint256 in range(NQ):
        x: uint256 = uint256_mulmod(DOMAIN_OFFSET, self._pow(gen, positions[q]), P)
        sz0: uint256 = cz0
        sz1: uint256 = cz1
        sg0: uint256 = cg0
        sg1: uint256 = cg1
        mb: uint256 = q * ROW_BYTES
        ab: uint256 = q * AUX_ROW_BYTES
        cb: uint256 = q * COMP_ROW_BYTES
{{DEEP_ROWS}}
        sz0 = sz0 % P
        sz1 = sz1 % P
        sg0 = sg0 % P
        sg1 = sg1 % P
        i0: uint256 = 0
        i1: uint256 = 0
        i0, i1 = self._einv(uint256_addmod(x, P - z0, P), (P - z1) % P)
        sz0, sz1 = self._emul(sz0, sz1, i0, i1)
        i0, i1 = self._einv(uint256_addmod(x, P - zg0, P), (P - zg1) % P)
        sg0, sg1 = self._emul(sg0, sg1, i0, i1)
        cur0.append(uint256_addmod(sz0, sg0, P))
        cur1.append(uint256_addmod(sz1, sg1, P))
    assert bad >> 64 == 0, "non-canonical field element"
    return cur0, cur1
'''


_FRI_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Fri
@notice FRI folding of the verifier {{NAME}}: one layer's opened cosets folded at beta.
"""

{{PROTOCOL_CONSTANTS}}


{{FIELD_ARITHMETIC}}


@external
@view
def fold(
    vals: DynArray[uint256, NQ * 2 * FOLD],
    idx: DynArray[uint256, NQ],
    offset: uint256,
    generator: uint256,
    b0: uint256,
    b1: uint256,
) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]):
    """Fold one FRI layer: each leaf's FOLD values on the coset of x = offset * g^idx, at beta.

    f(beta) = (1/FOLD) sum_t (beta / x)^t sum_k v_k w^(-k t): an unrolled inverse DFT with
    unreduced sums (products < 2^128), then Horner in beta / x.
    """
    out0: DynArray[uint256, NQ] = []
    out1: DynArray[uint256, NQ] = []
    for s: uint256 in range(NQ):
        if s >= len(idx):
            break
        xInv: uint256 = self._inv(uint256_mulmod(offset, self._pow(generator, idx[s]), P))
        g0: uint256 = uint256_mulmod(b0, xInv, P)
        g1: uint256 = uint256_mulmod(b1, xInv, P)
        k0: uint256 = 2 * FOLD * s
{{FOLD_BODY}}
        out0.append(uint256_mulmod(a0, FOLD_INV, P))
        out1.append(uint256_mulmod(a1, FOLD_INV, P))
    return out0, out1


@external
@view
def evaluateRemainder(
    positions: DynArray[uint256, NQ],
    offset: uint256,
    generator: uint256,
    coefficients: uint256[2 * REM_BOUND],
) -> (DynArray[uint256, NQ], DynArray[uint256, NQ]):
    """Return the remainder polynomial at x = offset * generator^p for every position p.

    Coefficients past the remainder's length are zero, so Horner runs over the bound, unrolled
    with literal indices (unreduced products < 2^128, one reduction a step).
    """
    out0: DynArray[uint256, NQ] = []
    out1: DynArray[uint256, NQ] = []
    for q: uint256 in range(NQ):
        if q >= len(positions):
            break
        x: uint256 = uint256_mulmod(offset, self._pow(generator, positions[q]), P)
        e0: uint256 = coefficients[2 * REM_BOUND - 2]
        e1: uint256 = coefficients[2 * REM_BOUND - 1]
{{REMAINDER_HORNER}}
        out0.append(e0)
        out1.append(e1)
    return out0, out1
'''


_OOD_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Ood
@notice The out-of-domain identity of the AIR "{{AIR_NAME}}": periodic columns, boundary
        constraints and (through the chunk contracts) the transition constraints at z,
        against the composition columns sent in the proof.
"""

{{PROTOCOL_CONSTANTS}}


interface IChunk:
    def partial(
        mc: uint256[FRAME_MAIN],
        mn: uint256[FRAME_MAIN],
        ac: uint256[FRAME_AUX],
        an: uint256[FRAME_AUX],
        per: uint256[FRAME_PERIODIC],
        pub: uint256[MAX_PUBLIC],
        ch: uint256[FRAME_CHALLENGES],
        alphas: uint256[FRAME_COEFFICIENTS],
    ) -> (uint256, uint256): view


interface IPeriodic:
    def evaluate(z0: uint256, z1: uint256, n: uint256) -> DynArray[uint256, FRAME_PERIODIC]: view


CHUNKS: public(immutable(DynArray[address, 64]))
PERIODICS: public(immutable(DynArray[address, 64]))


@deploy
def __init__(_chunks: DynArray[address, 64], _periodics: DynArray[address, 64]):
    CHUNKS = _chunks
    PERIODICS = _periodics


@internal
@view
def _periodic_at(z0: uint256, z1: uint256, n: uint256) -> uint256[FRAME_PERIODIC]:
    # the periodic-column contracts return their columns' values in column order
    out: uint256[FRAME_PERIODIC] = empty(uint256[FRAME_PERIODIC])
    k: uint256 = 0
    for group: address in PERIODICS:
        values: DynArray[uint256, FRAME_PERIODIC] = staticcall IPeriodic(group).evaluate(z0, z1, n)
        for v: uint256 in values:
            out[k] = v
            k += 1
    return out


{{FIELD_ARITHMETIC}}



{{BOUNDARY_SPEC}}


{{BOUNDARY_VALUES}}


@external
@view
def check(
    z0: uint256,
    z1: uint256,
    logN: uint256,
    mc: uint256[FRAME_MAIN],
    mn: uint256[FRAME_MAIN],
    ac: uint256[FRAME_AUX],
    an: uint256[FRAME_AUX],
    hz: uint256[FRAME_COMP],
    pub: uint256[MAX_PUBLIC],
    ch: uint256[FRAME_CHALLENGES],
    alphas: uint256[FRAME_COEFFICIENTS],
) -> bool:
    """Return True if the out-of-domain frame satisfies the AIR's composition identity."""
    n: uint256 = 1 << logN
    g: uint256 = self._root(logN)
    per: uint256[FRAME_PERIODIC] = self._periodic_at(z0, z1, n)
    t0: uint256 = 0
    t1: uint256 = 0
    for chunk: address in CHUNKS:
        c0: uint256 = 0
        c1: uint256 = 0
        c0, c1 = staticcall IChunk(chunk).partial(mc, mn, ac, an, per, pub, ch, alphas)
        t0 = uint256_addmod(t0, c0, P)
        t1 = uint256_addmod(t1, c1, P)
    zn0: uint256 = 0
    zn1: uint256 = 0
    zn0, zn1 = self._epow2(z0, z1, n)
    gLast: uint256 = self._pow(g, n - 1)
    vi0: uint256 = 0
    vi1: uint256 = 0
    vi0, vi1 = self._einv(uint256_addmod(zn0, P - 1, P), zn1)
    t0, t1 = self._emul(t0, t1, uint256_addmod(z0, P - gLast, P), z1)
    total0: uint256 = 0
    total1: uint256 = 0
    total0, total1 = self._emul(t0, t1, vi0, vi1)
    bvals: DynArray[uint256, FRAME_BOUNDARIES] = self._boundary_values(mc, mn, ac, an, per, pub, ch)
    f0: uint256 = 0
    f1: uint256 = 0
    l0: uint256 = 0
    l1: uint256 = 0
    for i: uint256 in range(NB):
        seg: uint256 = 0
        col: uint256 = 0
        row: int256 = 0
        seg, col, row = self._boundary_spec(i)
        r: uint256 = 0
        if row < 0:
            r = convert(convert(n, int256) + row, uint256)
        else:
            r = convert(row, uint256)
        assert r < n, "boundary row"
        c0: uint256 = 0
        c1: uint256 = 0
        if seg == 0:
            c0 = mc[2 * col]
            c1 = mc[2 * col + 1]
        else:
            c0 = ac[2 * col]
            c1 = ac[2 * col + 1]
        num0: uint256 = uint256_addmod(c0, P - bvals[2 * i], P)
        num1: uint256 = uint256_addmod(c1, P - bvals[2 * i + 1], P)
        num0, num1 = self._emul(num0, num1, alphas[2 * (NT + i)], alphas[2 * (NT + i) + 1])
        # boundaries on the first and the last row share their denominator: summed first
        if r == 0:
            f0 = uint256_addmod(f0, num0, P)
            f1 = uint256_addmod(f1, num1, P)
        elif r == n - 1:
            l0 = uint256_addmod(l0, num0, P)
            l1 = uint256_addmod(l1, num1, P)
        else:
            d0: uint256 = 0
            d1: uint256 = 0
            d0, d1 = self._einv(uint256_addmod(z0, P - self._pow(g, r), P), z1)
            num0, num1 = self._emul(num0, num1, d0, d1)
            total0 = uint256_addmod(total0, num0, P)
            total1 = uint256_addmod(total1, num1, P)
    e0: uint256 = 0
    e1: uint256 = 0
    e0, e1 = self._einv(uint256_addmod(z0, P - 1, P), z1)
    f0, f1 = self._emul(f0, f1, e0, e1)
    e0, e1 = self._einv(uint256_addmod(z0, P - gLast, P), z1)
    l0, l1 = self._emul(l0, l1, e0, e1)
    total0 = uint256_addmod(total0, uint256_addmod(f0, l0, P), P)
    total1 = uint256_addmod(total1, uint256_addmod(f1, l1, P), P)
    cl0: uint256 = 0
    cl1: uint256 = 0
    pw0: uint256 = 1
    pw1: uint256 = 0
    for k: uint256 in range(CW):
        m0: uint256 = 0
        m1: uint256 = 0
        m0, m1 = self._emul(pw0, pw1, hz[2 * k], hz[2 * k + 1])
        cl0 = uint256_addmod(cl0, m0, P)
        cl1 = uint256_addmod(cl1, m1, P)
        pw0, pw1 = self._emul(pw0, pw1, zn0, zn1)
    assert cl0 == total0 and cl1 == total1, "out-of-domain mismatch"

    return True
'''

_CHUNK_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Chunk{{CHUNK}}
@notice Transition constraints {{LO}}..{{HI}} of the AIR "{{AIR_NAME}}" at the out-of-domain
        frame, compiled to a register program (each shared subexpression once) that this
        contract interprets, summed with their composition coefficients.
"""

{{PROTOCOL_CONSTANTS}}


NOPS: constant(uint256) = {{NOPS}}
NREAL: constant(uint256) = {{NREAL}}
NWORDS: constant(uint256) = {{NWORDS}}
NCONSTS: constant(uint256) = {{NCONSTS}}
MASK16: constant(uint256) = 2**16 - 1
MASK128: constant(uint256) = 2**128 - 1
PP: constant(uint256) = P << 128 | P

# ops, six 40-bit (op 8 | a 16 | b 16) to a word; op i writes register i
PROGRAM: immutable(uint256[NWORDS])
CONSTS: immutable(uint256[NCONSTS])


@deploy
def __init__():
    PROGRAM = {{PROGRAM}}
    CONSTS = {{CONSTS}}


@external
@view
def partial(
    mc: uint256[FRAME_MAIN],
    mn: uint256[FRAME_MAIN],
    ac: uint256[FRAME_AUX],
    an: uint256[FRAME_AUX],
    per: uint256[FRAME_PERIODIC],
    pub: uint256[MAX_PUBLIC],
    ch: uint256[FRAME_CHALLENGES],
    alphas: uint256[FRAME_COEFFICIENTS],
) -> (uint256, uint256):
    """Return sum_i alphas_i C_i(frame) over this chunk's transition constraints."""
    # a register holds one extension element c0 + c1 X packed as c0 << 128 | c1 (both < P);
    # sums of two packed registers do not carry between the halves
    r: uint256[NOPS] = empty(uint256[NOPS])
    s0: uint256 = 0
    s1: uint256 = 0
    word: uint256 = 0
{{CHUNK_LOOP}}
        if i % 6 == 0:
            word = PROGRAM[i // 6]
        op: uint256 = word & 255
        a: uint256 = (word >> 8) & MASK16
        b: uint256 = (word >> 24) & MASK16
        word = word >> 40
        x: uint256 = 0
        if op == 0:
            u: uint256 = r[a]
            v: uint256 = r[b]
            a0: uint256 = u >> 128
            a1: uint256 = u & MASK128
            b0: uint256 = v >> 128
            b1: uint256 = v & MASK128
            x = (unsafe_add(unsafe_mul(a0, b0), unsafe_mul(7, unsafe_mul(a1, b1))) % P) << 128 | unsafe_add(unsafe_mul(a0, b1), unsafe_mul(a1, b0)) % P
        elif op == 1:
            u: uint256 = unsafe_add(r[a], r[b])
            x = ((u >> 128) % P) << 128 | (u & MASK128) % P
        elif op == 2:
            u: uint256 = unsafe_sub(unsafe_add(r[a], PP), r[b])
            x = ((u >> 128) % P) << 128 | (u & MASK128) % P
        elif op == 3:
            # unreduced: each term < 2^132, at most 2^16 of them
            u: uint256 = r[a]
            a0: uint256 = u >> 128
            a1: uint256 = u & MASK128
            b0: uint256 = alphas[2 * b]
            b1: uint256 = alphas[2 * b + 1]
            s0 = unsafe_add(s0, unsafe_add(unsafe_mul(a0, b0), unsafe_mul(7, unsafe_mul(a1, b1))))
            s1 = unsafe_add(s1, unsafe_add(unsafe_mul(a0, b1), unsafe_mul(a1, b0)))
        elif op == 4:
            x = mc[2 * a] << 128 | mc[2 * a + 1]
        elif op == 5:
            x = mn[2 * a] << 128 | mn[2 * a + 1]
        elif op == 6:
            x = ac[2 * a] << 128 | ac[2 * a + 1]
        elif op == 7:
            x = an[2 * a] << 128 | an[2 * a + 1]
        elif op == 8:
            x = per[2 * a] << 128 | per[2 * a + 1]
        elif op == 9:
            x = pub[a] << 128
        elif op == 10:
            x = ch[2 * a] << 128 | ch[2 * a + 1]
        elif op == 11:
            x = CONSTS[a] << 128
        else:
            u: uint256 = unsafe_sub(PP, r[a])
            x = ((u >> 128) % P) << 128 | (u & MASK128) % P
        r[i] = x
    return s0 % P, s1 % P
'''

_PERIODIC_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Periodic{{GROUP}}
@notice Periodic columns (group {{GROUP}}) of the AIR "{{AIR_NAME}}" at the out-of-domain point,
        in barycentric form over their cycles: q(y) = c + (z^n - 1) sum_i w_i / (y - r_i),
        one term per value that differs from the column's most common value c.
"""

{{PROTOCOL_CONSTANTS}}


NPC: constant(uint256) = {{NPC}}
ND: constant(uint256) = {{ND}}
NE: constant(uint256) = {{NE}}
NEW: constant(uint256) = {{NEW}}
MASK64: constant(uint256) = 2**64 - 1
MASK16: constant(uint256) = 2**16 - 1

# per column its most common value; denominators (log2 k << 64 | w_k^i); entries, two
# 96-bit (column 16 | denominator 16 | weight 64) to a word
BASES: immutable(uint256[NPC])
DENS: immutable(uint256[ND])
ENTRIES: immutable(uint256[NEW])


@deploy
def __init__():
    BASES = {{BASES}}
    DENS = {{DENS}}
    ENTRIES = {{ENTRIES}}


@internal
@view
def _inv(a: uint256) -> uint256:
    assert a != 0, "inverse of zero"
    out: Bytes[32] = raw_call(
        0x0000000000000000000000000000000000000005,
        concat(
            convert(32, bytes32),
            convert(32, bytes32),
            convert(32, bytes32),
            convert(a, bytes32),
            convert(P - 2, bytes32),
            convert(P, bytes32),
        ),
        max_outsize=32,
        is_static_call=True,
    )
    return convert(out, uint256)


@external
@view
def evaluate(z0: uint256, z1: uint256, n: uint256) -> DynArray[uint256, 2 * NPC]:
    """Return the columns' values q_c(z^(n/k_c)) (k_c the column's period)."""
    sq0: uint256[33] = empty(uint256[33])
    sq1: uint256[33] = empty(uint256[33])
    sq0[0] = z0
    sq1[0] = z1
    a0: uint256 = z0
    a1: uint256 = z1
    logN: uint256 = 0
    for s: uint256 in range(1, 33):
        if (1 << (s - 1)) >= n:
            break
        t0: uint256 = uint256_addmod(uint256_mulmod(a0, a0, P), uint256_mulmod(7, uint256_mulmod(a1, a1, P), P), P)
        a1 = uint256_mulmod(2, uint256_mulmod(a0, a1, P), P)
        a0 = t0
        sq0[s] = a0
        sq1[s] = a1
        logN = s
    assert (1 << logN) == n, "trace length"
    # denominators y_k - w_k^i and their prefix products, then one inversion for all
    x0: uint256[ND] = empty(uint256[ND])
    x1: uint256[ND] = empty(uint256[ND])
    pre0: uint256[ND] = empty(uint256[ND])
    pre1: uint256[ND] = empty(uint256[ND])
    r0: uint256 = 1
    r1: uint256 = 0
    for d: uint256 in range(ND):
        word: uint256 = DENS[d]
        e: uint256 = logN - (word >> 64)
        v0: uint256 = uint256_addmod(sq0[e], P - (word & MASK64), P)
        v1: uint256 = sq1[e]
        x0[d] = v0
        x1[d] = v1
        pre0[d] = r0
        pre1[d] = r1
        t0: uint256 = uint256_addmod(uint256_mulmod(r0, v0, P), uint256_mulmod(7, uint256_mulmod(r1, v1, P), P), P)
        r1 = uint256_addmod(uint256_mulmod(r0, v1, P), uint256_mulmod(r1, v0, P), P)
        r0 = t0
    ni: uint256 = self._inv(uint256_addmod(uint256_mulmod(r0, r0, P), P - uint256_mulmod(7, uint256_mulmod(r1, r1, P), P), P))
    i0: uint256 = uint256_mulmod(r0, ni, P)
    i1: uint256 = uint256_mulmod(P - r1, ni, P)
    inv0: uint256[ND] = empty(uint256[ND])
    inv1: uint256[ND] = empty(uint256[ND])
    for j: uint256 in range(ND):
        d: uint256 = ND - 1 - j
        p0: uint256 = pre0[d]
        p1: uint256 = pre1[d]
        inv0[d] = uint256_addmod(uint256_mulmod(i0, p0, P), uint256_mulmod(7, uint256_mulmod(i1, p1, P), P), P)
        inv1[d] = uint256_addmod(uint256_mulmod(i0, p1, P), uint256_mulmod(i1, p0, P), P)
        v0: uint256 = x0[d]
        v1: uint256 = x1[d]
        t0: uint256 = uint256_addmod(uint256_mulmod(i0, v0, P), uint256_mulmod(7, uint256_mulmod(i1, v1, P), P), P)
        i1 = uint256_addmod(uint256_mulmod(i0, v1, P), uint256_mulmod(i1, v0, P), P)
        i0 = t0
    # weights times inverses; products < 2^128, at most 2^16 of them: no overflow
    acc0: uint256[NPC] = empty(uint256[NPC])
    acc1: uint256[NPC] = empty(uint256[NPC])
    for k: uint256 in range(NE):
        word: uint256 = (ENTRIES[k >> 1] >> ((k & 1) * 96)) & (2**96 - 1)
        c: uint256 = word & MASK16
        d: uint256 = (word >> 16) & MASK16
        wt: uint256 = word >> 32
        acc0[c] = unsafe_add(acc0[c], unsafe_mul(wt, inv0[d]))
        acc1[c] = unsafe_add(acc1[c], unsafe_mul(wt, inv1[d]))
    zn0: uint256 = uint256_addmod(sq0[logN], P - 1, P)
    zn1: uint256 = sq1[logN]
    out: DynArray[uint256, 2 * NPC] = []
    for c: uint256 in range(NPC):
        b0: uint256 = acc0[c] % P
        b1: uint256 = acc1[c] % P
        out.append(uint256_addmod(BASES[c], uint256_addmod(uint256_mulmod(zn0, b0, P), uint256_mulmod(7, uint256_mulmod(zn1, b1, P), P), P), P))
        out.append(uint256_addmod(uint256_mulmod(zn0, b1, P), uint256_mulmod(zn1, b0, P), P))
    return out
'''


if __name__ == "__main__":
    main()
