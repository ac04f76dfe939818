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
3. the keccak Merkle multi-openings of the main, auxiliary and composition rows;
4. the DEEP composition at every query, then FRI: layer openings, folding, remainder.

Large AIRs: the transition constraints are compiled to a register program (structurally
equal subtrees evaluated once, powers as square-and-multiply), packed six ops to a word into
the code of as many chunk contracts as the 24 KB limit needs; each chunk interprets its
program and returns its alpha-weighted sum, the Ood contract calls them in turn with the same
frame. Periodic columns are evaluated by Horner on their coefficients, packed four to a word
in the code of periodic-group contracts. :func:`evaluate_constraint_program` is the Python
twin of the interpreter.

Inverses and exponentiations use the MODEXP precompile. A proof that does not verify
reverts with a reason string naming the failed check; ``verifyProof`` registers the fact
``keccak256(abi_encode(publicInputs))`` so a caller (or a later transaction) can rely on it.

``python -m starkperp.l1.verifier_gen`` rewrites ``contracts/generated/FibonacciVerifier.vy``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    "compute_constraint_programs",
    "deploy_verifier",
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


_FRAME_ARGS = """    mc: DynArray[uint256, FRAME_MAIN],
    mn: DynArray[uint256, FRAME_MAIN],
    ac: DynArray[uint256, FRAME_AUX],
    an: DynArray[uint256, FRAME_AUX],
    per: DynArray[uint256, FRAME_PERIODIC],
    pub: DynArray[uint256, MAX_PUBLIC],
    ch: DynArray[uint256, FRAME_CHALLENGES],"""


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
                "NWORDS": len(words),
                "NCONSTS": len(constants),
                "PROGRAM": _render_list(words),
                "CONSTS": _render_list(constants),
            }
        )
    return out


def _render_periodic_groups(air: Air, max_words: int) -> list[dict[str, object]]:
    # Periodic columns are evaluated by Horner on their coefficients, packed four to a word;
    # the columns are split over as many contracts as the code-size limit needs.
    from starkperp.stark.air import compute_periodic_coefficients

    groups: list[dict[str, object]] = []
    columns: list[tuple[int, ...]] = [
        compute_periodic_coefficients(c) for c in air.periodic_columns
    ]
    current: list[tuple[int, ...]] = []

    def flush() -> None:
        flat = [int(c) for col in current for c in col]
        words = [
            sum(v << (64 * k) for k, v in enumerate(flat[i : i + _PERIODIC_PER_WORD]))
            for i in range(0, len(flat), _PERIODIC_PER_WORD)
        ]
        groups.append(
            {
                "NPC": len(current),
                "NCW": len(words),
                "MAXK": max(len(col) for col in current),
                "COEFS": _render_list(words),
                "LENGTHS": _render_list([len(col) for col in current]),
            }
        )

    used = 0
    for col in columns:
        need = -(-len(col) // _PERIODIC_PER_WORD) + 1
        if current and used + need > max_words:
            flush()
            current, used = [], 0
        current.append(col)
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


def render_verifier(
    air: Air,
    options: ProofOptions,
    *,
    contract_name: str,
    max_proof_bytes: int = 65536,
    max_chunk_ops: int = 2400,
    max_periodic_words: int = 600,
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
    }
    for i, chunk in enumerate(_render_chunks(air, max_chunk_ops)):
        sources[f"{contract_name}Chunk{i}"] = fill(_CHUNK_TEMPLATE, {"CHUNK": i, **chunk})
    for i, group in enumerate(_render_periodic_groups(air, max_periodic_words)):
        sources[f"{contract_name}Periodic{i}"] = fill(_PERIODIC_TEMPLATE, {"GROUP": i, **group})
    return sources


def deploy_verifier(env: Any, air: Air, sources: dict[str, str], contract_name: str) -> Any:
    """Compile and deploy the contracts of :func:`render_verifier`; return the core verifier."""
    import boa

    chunk_names = sorted(
        (n for n in sources if n.startswith(f"{contract_name}Chunk")),
        key=lambda n: int(n.removeprefix(f"{contract_name}Chunk")),
    )
    group_names = sorted(
        (n for n in sources if n.startswith(f"{contract_name}Periodic")),
        key=lambda n: int(n.removeprefix(f"{contract_name}Periodic")),
    )
    chunks = [boa.loads_partial(sources[n], name=n).deploy(env=env) for n in chunk_names]
    groups = [boa.loads_partial(sources[n], name=n).deploy(env=env) for n in group_names]
    ood = boa.loads_partial(sources[f"{contract_name}Ood"], name=f"{contract_name}Ood").deploy(
        [c.address for c in chunks], [g.address for g in groups], env=env
    )
    core = boa.loads_partial(sources[contract_name], name=contract_name)
    return core.deploy(ood.address, env=env)


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
        mc: DynArray[uint256, FRAME_MAIN],
        mn: DynArray[uint256, FRAME_MAIN],
        ac: DynArray[uint256, FRAME_AUX],
        an: DynArray[uint256, FRAME_AUX],
        hz: DynArray[uint256, FRAME_COMP],
        pub: DynArray[uint256, MAX_PUBLIC],
        ch: DynArray[uint256, FRAME_CHALLENGES],
        alphas: DynArray[uint256, FRAME_COEFFICIENTS],
    ) -> bool: view


ood: public(immutable(address))
verifiedFacts: public(HashMap[bytes32, bool])


@deploy
def __init__(_ood: address):
    ood = _ood


{{FIELD_ARITHMETIC}}


# ---------------------------------------------------------------- transcript


@internal
@pure
def _draw(state: bytes32, counter: uint256) -> uint256:
    return convert(keccak256(concat(state, convert(convert(counter, uint64), bytes8))), uint256)


# ---------------------------------------------------------------- Merkle multi-openings


@internal
@pure
def _batch_root(
    indices: DynArray[uint256, NQ],
    leaves: DynArray[bytes32, NQ],
    nodes: DynArray[bytes32, MAX_FRI_NODES],
    start: uint256,
    count: uint256,
    depth: uint256,
) -> bytes32:
    curIdx: DynArray[uint256, NQ] = indices
    curDig: DynArray[bytes32, NQ] = leaves
    cursor: uint256 = start
    for level: uint256 in range(MAX_DEPTH):
        if level >= depth:
            break
        pIdx: DynArray[uint256, NQ] = []
        pDig: DynArray[bytes32, NQ] = []
        i: uint256 = 0
        for _: uint256 in range(NQ):
            if i >= len(curIdx):
                break
            index: uint256 = curIdx[i]
            digest: bytes32 = curDig[i]
            paired: bool = False
            if index % 2 == 0 and i + 1 < len(curIdx):
                if curIdx[i + 1] == index + 1:
                    paired = True
            parent: bytes32 = empty(bytes32)
            if paired:
                parent = keccak256(concat(digest, curDig[i + 1]))
                i += 2
            else:
                assert cursor < start + count, "Merkle opening too short"
                sibling: bytes32 = nodes[cursor]
                cursor += 1
                if index % 2 == 0:
                    parent = keccak256(concat(digest, sibling))
                else:
                    parent = keccak256(concat(sibling, digest))
                i += 1
            pIdx.append(index // 2)
            pDig.append(parent)
        curIdx = pIdx
        curDig = pDig
    assert cursor == start + count, "Merkle opening has unused nodes"
    assert len(curIdx) == 1 and curIdx[0] == 0, "Merkle indices out of range"
    return curDig[0]


# ---------------------------------------------------------------- FRI folding


@internal
@view
def _fold(vals: DynArray[uint256, 2 * FOLD], x: uint256, b0: uint256, b1: uint256) -> (uint256, uint256):
    # sum_t beta^t * (1/f) * sum_k v_k * x^-t * w_f^(-k t)
    xInv: uint256 = self._inv(x)
    acc0: uint256 = 0
    acc1: uint256 = 0
    bp0: uint256 = 1
    bp1: uint256 = 0
    xp: uint256 = 1
    for t: uint256 in range(FOLD):
        tot0: uint256 = 0
        tot1: uint256 = 0
        for k: uint256 in range(FOLD):
            weight: uint256 = uint256_mulmod(xp, self._pow(FOLD_ROOT_INV, (k * t) % FOLD), P)
            tot0 = uint256_addmod(tot0, uint256_mulmod(vals[2 * k], weight, P), P)
            tot1 = uint256_addmod(tot1, uint256_mulmod(vals[2 * k + 1], weight, P), P)
        tot0 = uint256_mulmod(tot0, FOLD_INV, P)
        tot1 = uint256_mulmod(tot1, FOLD_INV, P)
        m0: uint256 = 0
        m1: uint256 = 0
        m0, m1 = self._emul(tot0, tot1, bp0, bp1)
        acc0 = uint256_addmod(acc0, m0, P)
        acc1 = uint256_addmod(acc1, m1, P)
        bp0, bp1 = self._emul(bp0, bp1, b0, b1)
        xp = uint256_mulmod(xp, xInv, P)
    return acc0, acc1


# ---------------------------------------------------------------- the verifier


@internal
@view
def _verify(proof: Bytes[MAX_PROOF], pub: DynArray[uint256, MAX_PUBLIC]):
    assert len(pub) == NPUB, "public input count"
    for v: uint256 in pub:
        assert v < P, "public input not canonical"

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
    mc: DynArray[uint256, FRAME_MAIN] = []
    mn: DynArray[uint256, FRAME_MAIN] = []
    ac: DynArray[uint256, FRAME_AUX] = []
    an: DynArray[uint256, FRAME_AUX] = []
    hz: DynArray[uint256, FRAME_COMP] = []
    for i: uint256 in range(FRAME_MAIN):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        mc.append(v)
        o += 8
    for i: uint256 in range(FRAME_MAIN):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        mn.append(v)
        o += 8
    for i: uint256 in range(2 * A):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        ac.append(v)
        o += 8
    for i: uint256 in range(2 * A):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        an.append(v)
        o += 8
    for i: uint256 in range(FRAME_COMP):
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        hz.append(v)
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
    remainder: DynArray[uint256, 2 * REM_BOUND] = []
    for i: uint256 in range(2 * REM_BOUND):
        if i >= 2 * remLen:
            break
        v: uint256 = convert(slice(proof, o, 8), uint256)
        assert v < P, "non-canonical field element"
        remainder.append(v)
        o += 8
    nonceBytes: bytes8 = convert(slice(proof, o, 8), bytes8)
    o += 8

    # rows (leaf hashes are keccak256 of the row bytes in the proof) and their openings
    mainVals: DynArray[uint256, NQ * W] = []
    mainLeaves: DynArray[bytes32, NQ] = []
    for q: uint256 in range(NQ):
        mainLeaves.append(keccak256(slice(proof, o, ROW_BYTES)))
        for c: uint256 in range(W):
            v: uint256 = convert(slice(proof, o, 8), uint256)
            assert v < P, "non-canonical field element"
            mainVals.append(v)
            o += 8
    nodes: DynArray[bytes32, MAX_FRI_NODES] = []
    count: uint256 = convert(slice(proof, o, 2), uint256)
    o += 2
    mainNodes: uint256 = count
    for i: uint256 in range(MAX_NODES):
        if i >= count:
            break
        nodes.append(extract32(proof, o))
        o += 32
    auxVals: DynArray[uint256, NQ * 2 * A + 1] = []
    auxLeaves: DynArray[bytes32, NQ] = []
    auxNodes: uint256 = 0
    if A > 0:
        for q: uint256 in range(NQ):
            auxLeaves.append(keccak256(slice(proof, o, AUX_ROW_BYTES)))
            for c: uint256 in range(2 * A):
                v: uint256 = convert(slice(proof, o, 8), uint256)
                assert v < P, "non-canonical field element"
                auxVals.append(v)
                o += 8
        auxNodes = convert(slice(proof, o, 2), uint256)
        o += 2
        for i: uint256 in range(MAX_NODES):
            if i >= auxNodes:
                break
            nodes.append(extract32(proof, o))
            o += 32
    compVals: DynArray[uint256, NQ * 2 * CW] = []
    compLeaves: DynArray[bytes32, NQ] = []
    for q: uint256 in range(NQ):
        compLeaves.append(keccak256(slice(proof, o, COMP_ROW_BYTES)))
        for c: uint256 in range(2 * CW):
            v: uint256 = convert(slice(proof, o, 8), uint256)
            assert v < P, "non-canonical field element"
            compVals.append(v)
            o += 8
    compNodes: uint256 = convert(slice(proof, o, 2), uint256)
    o += 2
    for i: uint256 in range(MAX_NODES):
        if i >= compNodes:
            break
        nodes.append(extract32(proof, o))
        o += 32

    friLeafCount: DynArray[uint256, MAX_LAYERS] = []
    friNodeCount: DynArray[uint256, MAX_LAYERS] = []
    friVals: DynArray[uint256, NQ * 2 * FOLD * MAX_LAYERS] = []
    friLeaves: DynArray[bytes32, NQ * MAX_LAYERS] = []
    for layer: uint256 in range(MAX_LAYERS):
        if layer >= nLayers:
            break
        nl: uint256 = convert(slice(proof, o, 2), uint256)
        o += 2
        assert nl >= 1 and nl <= NQ, "FRI leaf count"
        friLeafCount.append(nl)
        for j: uint256 in range(NQ):
            if j >= nl:
                break
            friLeaves.append(keccak256(slice(proof, o, LEAF_BYTES)))
            for c: uint256 in range(2 * FOLD):
                v: uint256 = convert(slice(proof, o, 8), uint256)
                assert v < P, "non-canonical field element"
                friVals.append(v)
                o += 8
        nn: uint256 = convert(slice(proof, o, 2), uint256)
        o += 2
        friNodeCount.append(nn)
        for i: uint256 in range(MAX_NODES):
            if i >= nn:
                break
            nodes.append(extract32(proof, o))
            o += 32
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
    ch: DynArray[uint256, FRAME_CHALLENGES] = []
    if A > 0:
        for i: uint256 in range(2 * NCH):
            ch.append(self._draw(st, ctr) % P)
            ctr += 1
        st = keccak256(concat(st, auxRoot))
        ctr = 0
    alphas: DynArray[uint256, FRAME_COEFFICIENTS] = []
    for i: uint256 in range(FRAME_COEFFICIENTS):
        alphas.append(self._draw(st, ctr) % P)
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
    deep: DynArray[uint256, FRAME_DEEP] = []
    for i: uint256 in range(FRAME_DEEP):
        deep.append(self._draw(st, ctr) % P)
        ctr += 1
    betas: DynArray[uint256, 2 * MAX_LAYERS] = []
    for root: bytes32 in friRoots:
        st = keccak256(concat(st, root))
        ctr = 0
        betas.append(self._draw(st, 0) % P)
        betas.append(self._draw(st, 1) % P)
    st = keccak256(concat(st, slice(proof, remStart, 16 * remLen)))
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
    assert staticcall IOod(ood).check(z0, z1, logN, mc, mn, ac, an, hz, pub, ch, alphas), "out-of-domain mismatch"

    # Check B: trace and composition openings.
    cursor: uint256 = 0
    assert self._batch_root(positions, mainLeaves, nodes, cursor, mainNodes, logSize) == mainRoot, "main trace root"
    cursor += mainNodes
    if A > 0:
        assert self._batch_root(positions, auxLeaves, nodes, cursor, auxNodes, logSize) == auxRoot, "aux trace root"
        cursor += auxNodes
    assert self._batch_root(positions, compLeaves, nodes, cursor, compNodes, logSize) == compRoot, "composition root"
    cursor += compNodes

    # Check C: DEEP composition at the queries, then FRI.
    zg0: uint256 = uint256_mulmod(z0, g, P)
    zg1: uint256 = uint256_mulmod(z1, g, P)
    gen: uint256 = self._root(logSize)
    curPos: DynArray[uint256, NQ] = positions
    cur0: DynArray[uint256, NQ] = []
    cur1: DynArray[uint256, NQ] = []
    for q: uint256 in range(NQ):
        x: uint256 = uint256_mulmod(DOMAIN_OFFSET, self._pow(gen, positions[q]), P)
        sz0: uint256 = 0
        sz1: uint256 = 0
        sg0: uint256 = 0
        sg1: uint256 = 0
        m0: uint256 = 0
        m1: uint256 = 0
        for c: uint256 in range(W):
            v: uint256 = mainVals[q * W + c]
            m0, m1 = self._emul(deep[4 * c], deep[4 * c + 1], uint256_addmod(v, P - mc[2 * c], P), (P - mc[2 * c + 1]) % P)
            sz0 = uint256_addmod(sz0, m0, P)
            sz1 = uint256_addmod(sz1, m1, P)
            m0, m1 = self._emul(deep[4 * c + 2], deep[4 * c + 3], uint256_addmod(v, P - mn[2 * c], P), (P - mn[2 * c + 1]) % P)
            sg0 = uint256_addmod(sg0, m0, P)
            sg1 = uint256_addmod(sg1, m1, P)
        for c: uint256 in range(A):
            v0: uint256 = auxVals[q * 2 * A + 2 * c]
            v1: uint256 = auxVals[q * 2 * A + 2 * c + 1]
            k: uint256 = 4 * (W + c)
            m0, m1 = self._emul(deep[k], deep[k + 1], uint256_addmod(v0, P - ac[2 * c], P), uint256_addmod(v1, P - ac[2 * c + 1], P))
            sz0 = uint256_addmod(sz0, m0, P)
            sz1 = uint256_addmod(sz1, m1, P)
            m0, m1 = self._emul(deep[k + 2], deep[k + 3], uint256_addmod(v0, P - an[2 * c], P), uint256_addmod(v1, P - an[2 * c + 1], P))
            sg0 = uint256_addmod(sg0, m0, P)
            sg1 = uint256_addmod(sg1, m1, P)
        for c: uint256 in range(CW):
            k: uint256 = 4 * (W + A) + 2 * c
            m0, m1 = self._emul(deep[k], deep[k + 1], uint256_addmod(compVals[q * 2 * CW + 2 * c], P - hz[2 * c], P), uint256_addmod(compVals[q * 2 * CW + 2 * c + 1], P - hz[2 * c + 1], P))
            sz0 = uint256_addmod(sz0, m0, P)
            sz1 = uint256_addmod(sz1, m1, P)
        i0: uint256 = 0
        i1: uint256 = 0
        i0, i1 = self._einv(uint256_addmod(x, P - z0, P), (P - z1) % P)
        sz0, sz1 = self._emul(sz0, sz1, i0, i1)
        i0, i1 = self._einv(uint256_addmod(x, P - zg0, P), (P - zg1) % P)
        sg0, sg1 = self._emul(sg0, sg1, i0, i1)
        cur0.append(uint256_addmod(sz0, sg0, P))
        cur1.append(uint256_addmod(sz1, sg1, P))

    m: uint256 = size
    logM: uint256 = logSize
    offset: uint256 = DOMAIN_OFFSET
    leafBase: uint256 = 0
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
            base: uint256 = 2 * FOLD * (leafBase + li) + 2 * slot
            if layer == 0:
                assert friVals[base] == cur0[q] and friVals[base + 1] == cur1[q], "DEEP mismatch"
            else:
                assert friVals[base] == cur0[q] and friVals[base + 1] == cur1[q], "FRI folding"
        layerLeaves: DynArray[bytes32, NQ] = []
        for s: uint256 in range(NQ):
            if s >= len(idx):
                break
            layerLeaves.append(friLeaves[leafBase + s])
        nn: uint256 = friNodeCount[layer]
        assert self._batch_root(idx, layerLeaves, nodes, cursor, nn, logM - LOG_FOLD) == friRoots[layer], "FRI layer root"
        cursor += nn
        generator: uint256 = self._root(logM)
        next0: DynArray[uint256, NQ] = []
        next1: DynArray[uint256, NQ] = []
        for s: uint256 in range(NQ):
            if s >= len(idx):
                break
            vals: DynArray[uint256, 2 * FOLD] = []
            for c: uint256 in range(2 * FOLD):
                vals.append(friVals[2 * FOLD * (leafBase + s) + c])
            xj: uint256 = uint256_mulmod(offset, self._pow(generator, idx[s]), P)
            f0: uint256 = 0
            f1: uint256 = 0
            f0, f1 = self._fold(vals, xj, betas[2 * layer], betas[2 * layer + 1])
            next0.append(f0)
            next1.append(f1)
        curPos = idx
        cur0 = next0
        cur1 = next1
        leafBase += len(idx)
        offset = self._pow(offset, FOLD)
        m = mLeaves
        logM -= LOG_FOLD
    generator: uint256 = self._root(logM)
    for q: uint256 in range(NQ):
        if q >= len(curPos):
            break
        x: uint256 = uint256_mulmod(offset, self._pow(generator, curPos[q]), P)
        e0: uint256 = 0
        e1: uint256 = 0
        for i: uint256 in range(REM_BOUND):
            if i >= remLen:
                break
            k: uint256 = remLen - 1 - i
            e0 = uint256_addmod(uint256_mulmod(e0, x, P), remainder[2 * k], P)
            e1 = uint256_addmod(uint256_mulmod(e1, x, P), remainder[2 * k + 1], P)
        assert e0 == cur0[q] and e1 == cur1[q], "FRI remainder"


@external
@view
def verify(proof: Bytes[MAX_PROOF], publicInputs: DynArray[uint256, MAX_PUBLIC]) -> bool:
    """Return True if the proof verifies; revert with the failed check otherwise."""
    self._verify(proof, publicInputs)
    return True


@external
def verifyProof(proof: Bytes[MAX_PROOF], publicInputs: DynArray[uint256, MAX_PUBLIC]):
    """Verify and register keccak256(abi_encode(publicInputs)) as a verified fact."""
    self._verify(proof, publicInputs)
    self.verifiedFacts[keccak256(abi_encode(publicInputs))] = True


@external
@view
def isValid(fact: bytes32) -> bool:
    return self.verifiedFacts[fact]
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
        mc: DynArray[uint256, FRAME_MAIN],
        mn: DynArray[uint256, FRAME_MAIN],
        ac: DynArray[uint256, FRAME_AUX],
        an: DynArray[uint256, FRAME_AUX],
        per: DynArray[uint256, FRAME_PERIODIC],
        pub: DynArray[uint256, MAX_PUBLIC],
        ch: DynArray[uint256, FRAME_CHALLENGES],
        alphas: DynArray[uint256, FRAME_COEFFICIENTS],
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
def _periodic_at(z0: uint256, z1: uint256, n: uint256) -> DynArray[uint256, FRAME_PERIODIC]:
    # the periodic-column contracts return their columns' values in column order
    out: DynArray[uint256, FRAME_PERIODIC] = []
    for group: address in PERIODICS:
        values: DynArray[uint256, FRAME_PERIODIC] = staticcall IPeriodic(group).evaluate(z0, z1, n)
        for v: uint256 in values:
            out.append(v)
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
    mc: DynArray[uint256, FRAME_MAIN],
    mn: DynArray[uint256, FRAME_MAIN],
    ac: DynArray[uint256, FRAME_AUX],
    an: DynArray[uint256, FRAME_AUX],
    hz: DynArray[uint256, FRAME_COMP],
    pub: DynArray[uint256, MAX_PUBLIC],
    ch: DynArray[uint256, FRAME_CHALLENGES],
    alphas: DynArray[uint256, FRAME_COEFFICIENTS],
) -> bool:
    """Return True if the out-of-domain frame satisfies the AIR's composition identity."""
    n: uint256 = 1 << logN
    g: uint256 = self._root(logN)
    per: DynArray[uint256, FRAME_PERIODIC] = self._periodic_at(z0, z1, n)
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
        d0: uint256 = 0
        d1: uint256 = 0
        d0, d1 = self._einv(uint256_addmod(z0, P - self._pow(g, r), P), z1)
        num0, num1 = self._emul(num0, num1, d0, d1)
        num0, num1 = self._emul(num0, num1, alphas[2 * (NT + i)], alphas[2 * (NT + i) + 1])
        total0 = uint256_addmod(total0, num0, P)
        total1 = uint256_addmod(total1, num1, P)
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
MASK40: constant(uint256) = 2**40 - 1
MASK16: constant(uint256) = 2**16 - 1

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
    mc: DynArray[uint256, FRAME_MAIN],
    mn: DynArray[uint256, FRAME_MAIN],
    ac: DynArray[uint256, FRAME_AUX],
    an: DynArray[uint256, FRAME_AUX],
    per: DynArray[uint256, FRAME_PERIODIC],
    pub: DynArray[uint256, MAX_PUBLIC],
    ch: DynArray[uint256, FRAME_CHALLENGES],
    alphas: DynArray[uint256, FRAME_COEFFICIENTS],
) -> (uint256, uint256):
    """Return sum_i alphas_i C_i(frame) over this chunk's transition constraints."""
    r0: uint256[NOPS] = empty(uint256[NOPS])
    r1: uint256[NOPS] = empty(uint256[NOPS])
    s0: uint256 = 0
    s1: uint256 = 0
    word: uint256 = 0
    for i: uint256 in range(NREAL + 1):
        if i >= NREAL:
            break
        if i % 6 == 0:
            word = PROGRAM[i // 6]
        code: uint256 = word & MASK40
        word = word >> 40
        op: uint256 = code & 255
        a: uint256 = (code >> 8) & MASK16
        b: uint256 = code >> 24
        x0: uint256 = 0
        x1: uint256 = 0
        if op == 0:
            a0: uint256 = r0[a]
            a1: uint256 = r1[a]
            b0: uint256 = r0[b]
            b1: uint256 = r1[b]
            x0 = uint256_addmod(uint256_mulmod(a0, b0, P), uint256_mulmod(7, uint256_mulmod(a1, b1, P), P), P)
            x1 = uint256_addmod(uint256_mulmod(a0, b1, P), uint256_mulmod(a1, b0, P), P)
        elif op == 1:
            x0 = uint256_addmod(r0[a], r0[b], P)
            x1 = uint256_addmod(r1[a], r1[b], P)
        elif op == 2:
            x0 = uint256_addmod(r0[a], P - r0[b], P)
            x1 = uint256_addmod(r1[a], P - r1[b], P)
        elif op == 3:
            a0: uint256 = r0[a]
            a1: uint256 = r1[a]
            b0: uint256 = alphas[2 * b]
            b1: uint256 = alphas[2 * b + 1]
            s0 = uint256_addmod(s0, uint256_addmod(uint256_mulmod(a0, b0, P), uint256_mulmod(7, uint256_mulmod(a1, b1, P), P), P), P)
            s1 = uint256_addmod(s1, uint256_addmod(uint256_mulmod(a0, b1, P), uint256_mulmod(a1, b0, P), P), P)
        elif op == 4:
            x0 = mc[2 * a]
            x1 = mc[2 * a + 1]
        elif op == 5:
            x0 = mn[2 * a]
            x1 = mn[2 * a + 1]
        elif op == 6:
            x0 = ac[2 * a]
            x1 = ac[2 * a + 1]
        elif op == 7:
            x0 = an[2 * a]
            x1 = an[2 * a + 1]
        elif op == 8:
            x0 = per[2 * a]
            x1 = per[2 * a + 1]
        elif op == 9:
            x0 = pub[a]
        elif op == 10:
            x0 = ch[2 * a]
            x1 = ch[2 * a + 1]
        elif op == 11:
            x0 = CONSTS[a]
        else:
            x0 = (P - r0[a]) % P
            x1 = (P - r1[a]) % P
        r0[i] = x0
        r1[i] = x1
    return s0, s1
'''

_PERIODIC_TEMPLATE = '''# pragma version ~=0.4.3
# GENERATED by starkperp.l1.verifier_gen for the AIR "{{AIR_NAME}}"; do not edit by hand.
"""
@title {{NAME}}Periodic{{GROUP}}
@notice Periodic columns (group {{GROUP}}) of the AIR "{{AIR_NAME}}" at the out-of-domain point:
        Horner on their coefficients, stored packed in the contract code.
"""

{{PROTOCOL_CONSTANTS}}


NPC: constant(uint256) = {{NPC}}
NCW: constant(uint256) = {{NCW}}
MAXK: constant(uint256) = {{MAXK}}
MASK64: constant(uint256) = 2**64 - 1

# coefficients of the columns, lowest degree first, column after column, four to a word
COEFS: immutable(uint256[NCW])
LENGTHS: immutable(uint256[NPC])


@deploy
def __init__():
    COEFS = {{COEFS}}
    LENGTHS = {{LENGTHS}}


@internal
@pure
def _emul(a0: uint256, a1: uint256, b0: uint256, b1: uint256) -> (uint256, uint256):
    return (
        uint256_addmod(uint256_mulmod(a0, b0, P), uint256_mulmod(7, uint256_mulmod(a1, b1, P), P), P),
        uint256_addmod(uint256_mulmod(a0, b1, P), uint256_mulmod(a1, b0, P), P),
    )


@external
@view
def evaluate(z0: uint256, z1: uint256, n: uint256) -> DynArray[uint256, 2 * NPC]:
    """Return the columns' values q_c(z^(n/k_c)) (k_c the column's period)."""
    out: DynArray[uint256, 2 * NPC] = []
    base: uint256 = 0
    for c: uint256 in range(NPC):
        k: uint256 = LENGTHS[c]
        p0: uint256 = z0
        p1: uint256 = z1
        e: uint256 = n // k
        for _: uint256 in range(64):
            if e <= 1:
                break
            p0, p1 = self._emul(p0, p1, p0, p1)
            e = e >> 1
        a0: uint256 = 0
        a1: uint256 = 0
        for i: uint256 in range(MAXK):
            if i >= k:
                break
            j: uint256 = base + k - 1 - i
            coef: uint256 = (COEFS[j >> 2] >> ((j & 3) << 6)) & MASK64
            t0: uint256 = uint256_addmod(
                uint256_mulmod(a0, p0, P), uint256_mulmod(7, uint256_mulmod(a1, p1, P), P), P
            )
            a1 = uint256_addmod(uint256_mulmod(a0, p1, P), uint256_mulmod(a1, p0, P), P)
            a0 = uint256_addmod(t0, coef, P)
        out.append(a0)
        out.append(a1)
        base += k
    return out
'''


if __name__ == "__main__":
    main()
