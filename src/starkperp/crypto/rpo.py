"""Rescue-Prime Optimized (RPO) over Goldilocks: the in-proof hash of the state trees.

Parameters and constants are Miden's ``Rpo256`` (https://github.com/0xMiden/crypto, tag
v0.20.1, ``miden-crypto/src/hash/algebraic_sponge/rescue``), the RPO specification of
https://eprint.iacr.org/2022/1577:

* state width 12; capacity ``state[0..4)``, rate ``state[4..12)``, digest ``state[4..8)``
  (the layout of Miden crypto up to v0.20; v0.21 moved the rate to ``state[0..8)``);
* 7 rounds; each round is ``MDS, +ARK1[r], x^7, MDS, +ARK2[r], x^(1/7)``;
* ``MDS`` is the circulant 12x12 matrix with first row ``MDS_FIRST_ROW``;
* ``INV_ALPHA = 10540996611094048183`` is the inverse of 7 modulo p - 1.

Sponge rules (Miden's ``hash_elements`` and ``merge``):

* ``hash_elements(e)``: capacity[0] = len(e) % 8, absorb e into the rate 8 at a time
  (overwrite), permute after each full block, zero-pad and permute a partial last block;
  the empty input hashes to (0, 0, 0, 0) with no permutation.
* ``merge(a, b)``: rate = a || b, capacity zero, one permutation (equal to hashing the 8
  elements, since 8 % 8 = 0).

``permute_reference``, ``hash_elements_reference`` and ``merge_reference`` are the readable
reference on lists of Python ints. ``permute``, ``hash_elements`` and ``merge`` take and
return the same Python values but run the compiled permutation (about 50x faster), and
``permute_batch``, ``merge_batch`` and ``hash_elements_batch`` run it over many states at
once (threads for large batches); all are tested against the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from starkperp.crypto.errors import CryptoError, CryptoErrorReason
from starkperp.field.goldilocks import P
from starkperp.field.kernels import kadd, kmul, kreduce128

__all__ = [
    "ALPHA",
    "ARK1",
    "ARK2",
    "CAPACITY_RANGE",
    "DIGEST_RANGE",
    "INV_ALPHA",
    "MDS",
    "MDS_FIRST_ROW",
    "NUM_ROUNDS",
    "RATE_RANGE",
    "RATE_WIDTH",
    "STATE_WIDTH",
    "ZERO_DIGEST",
    "Digest",
    "apply_inv_sbox",
    "apply_mds",
    "apply_round",
    "apply_sbox",
    "hash_elements",
    "hash_elements_batch",
    "hash_elements_reference",
    "merge",
    "merge_batch",
    "merge_reference",
    "permute",
    "permute_batch",
    "permute_batch_rounds",
    "permute_reference",
]

Digest = tuple[int, int, int, int]

STATE_WIDTH = 12
RATE_WIDTH = 8
CAPACITY_RANGE = range(0, 4)
RATE_RANGE = range(4, 12)
DIGEST_RANGE = range(4, 8)
NUM_ROUNDS = 7
ALPHA = 7
INV_ALPHA = 10540996611094048183

MDS_FIRST_ROW: tuple[int, ...] = (7, 23, 8, 26, 13, 10, 9, 7, 6, 22, 21, 8)
MDS: tuple[tuple[int, ...], ...] = tuple(
    tuple(MDS_FIRST_ROW[(j - i) % STATE_WIDTH] for j in range(STATE_WIDTH))
    for i in range(STATE_WIDTH)
)

ARK1: tuple[tuple[int, ...], ...] = (
    (
        5789762306288267392,
        6522564764413701783,
        17809893479458208203,
        107145243989736508,
        6388978042437517382,
        15844067734406016715,
        9975000513555218239,
        3344984123768313364,
        9959189626657347191,
        12960773468763563665,
        9602914297752488475,
        16657542370200465908,
    ),
    (
        12987190162843096997,
        653957632802705281,
        4441654670647621225,
        4038207883745915761,
        5613464648874830118,
        13222989726778338773,
        3037761201230264149,
        16683759727265180203,
        8337364536491240715,
        3227397518293416448,
        8110510111539674682,
        2872078294163232137,
    ),
    (
        18072785500942327487,
        6200974112677013481,
        17682092219085884187,
        10599526828986756440,
        975003873302957338,
        8264241093196931281,
        10065763900435475170,
        2181131744534710197,
        6317303992309418647,
        1401440938888741532,
        8884468225181997494,
        13066900325715521532,
    ),
    (
        5674685213610121970,
        5759084860419474071,
        13943282657648897737,
        1352748651966375394,
        17110913224029905221,
        1003883795902368422,
        4141870621881018291,
        8121410972417424656,
        14300518605864919529,
        13712227150607670181,
        17021852944633065291,
        6252096473787587650,
    ),
    (
        4887609836208846458,
        3027115137917284492,
        9595098600469470675,
        10528569829048484079,
        7864689113198939815,
        17533723827845969040,
        5781638039037710951,
        17024078752430719006,
        109659393484013511,
        7158933660534805869,
        2955076958026921730,
        7433723648458773977,
    ),
    (
        16308865189192447297,
        11977192855656444890,
        12532242556065780287,
        14594890931430968898,
        7291784239689209784,
        5514718540551361949,
        10025733853830934803,
        7293794580341021693,
        6728552937464861756,
        6332385040983343262,
        13277683694236792804,
        2600778905124452676,
    ),
    (
        7123075680859040534,
        1034205548717903090,
        7717824418247931797,
        3019070937878604058,
        11403792746066867460,
        10280580802233112374,
        337153209462421218,
        13333398568519923717,
        3596153696935337464,
        8104208463525993784,
        14345062289456085693,
        17036731477169661256,
    ),
)

ARK2: tuple[tuple[int, ...], ...] = (
    (
        6077062762357204287,
        15277620170502011191,
        5358738125714196705,
        14233283787297595718,
        13792579614346651365,
        11614812331536767105,
        14871063686742261166,
        10148237148793043499,
        4457428952329675767,
        15590786458219172475,
        10063319113072092615,
        14200078843431360086,
    ),
    (
        6202948458916099932,
        17690140365333231091,
        3595001575307484651,
        373995945117666487,
        1235734395091296013,
        14172757457833931602,
        707573103686350224,
        15453217512188187135,
        219777875004506018,
        17876696346199469008,
        17731621626449383378,
        2897136237748376248,
    ),
    (
        8023374565629191455,
        15013690343205953430,
        4485500052507912973,
        12489737547229155153,
        9500452585969030576,
        2054001340201038870,
        12420704059284934186,
        355990932618543755,
        9071225051243523860,
        12766199826003448536,
        9045979173463556963,
        12934431667190679898,
    ),
    (
        18389244934624494276,
        16731736864863925227,
        4440209734760478192,
        17208448209698888938,
        8739495587021565984,
        17000774922218161967,
        13533282547195532087,
        525402848358706231,
        16987541523062161972,
        5466806524462797102,
        14512769585918244983,
        10973956031244051118,
    ),
    (
        6982293561042362913,
        14065426295947720331,
        16451845770444974180,
        7139138592091306727,
        9012006439959783127,
        14619614108529063361,
        1394813199588124371,
        4635111139507788575,
        16217473952264203365,
        10782018226466330683,
        6844229992533662050,
        7446486531695178711,
    ),
    (
        3736792340494631448,
        577852220195055341,
        6689998335515779805,
        13886063479078013492,
        14358505101923202168,
        7744142531772274164,
        16135070735728404443,
        12290902521256031137,
        12059913662657709804,
        16456018495793751911,
        4571485474751953524,
        17200392109565783176,
    ),
    (
        17130398059294018733,
        519782857322261988,
        9625384390925085478,
        1664893052631119222,
        7629576092524553570,
        3485239601103661425,
        9755891797164033838,
        15218148195153269027,
        16460604813734957368,
        9643968136937729763,
        3611348709641382851,
        18256379591337759196,
    ),
)

ZERO_DIGEST: Digest = (0, 0, 0, 0)

# ---------------------------------------------------------------------------------------------
# Readable reference
# ---------------------------------------------------------------------------------------------


def apply_mds(state: Sequence[int]) -> list[int]:
    """Return MDS * state."""
    return [sum(m * s for m, s in zip(row, state)) % P for row in MDS]


def apply_sbox(state: Sequence[int]) -> list[int]:
    """Return [x^7 for x in state]."""
    return [pow(s, ALPHA, P) for s in state]


def apply_inv_sbox(state: Sequence[int]) -> list[int]:
    """Return [x^(1/7) for x in state]."""
    return [pow(s, INV_ALPHA, P) for s in state]


def apply_round(state: Sequence[int], round_index: int) -> list[int]:
    """Return the state after RPO round ``round_index`` (0-based)."""
    s = apply_mds(state)
    s = apply_sbox([(x + c) % P for x, c in zip(s, ARK1[round_index])])
    s = apply_mds(s)
    return apply_inv_sbox([(x + c) % P for x, c in zip(s, ARK2[round_index])])


def _canonical(elems: Sequence[int]) -> list[int]:
    # Python or numpy integers in [0, p), returned as Python ints; anything else is rejected.
    out = []
    for x in elems:
        if isinstance(x, bool) or not isinstance(x, int | np.integer):
            raise CryptoError(CryptoErrorReason.NOT_CANONICAL, "elements must be integers")
        v = int(x)
        if not 0 <= v < P:
            raise CryptoError(CryptoErrorReason.NOT_CANONICAL, "elements must be in [0, p)")
        out.append(v)
    return out


def _validate_state(state: Sequence[int]) -> list[int]:
    if len(state) != STATE_WIDTH:
        raise CryptoError(CryptoErrorReason.BAD_LENGTH, f"state has {len(state)} elements")
    return _canonical(state)


def permute_reference(state: Sequence[int]) -> list[int]:
    """Return the RPO permutation of a 12-element state (readable reference)."""
    s = _validate_state(state)
    for r in range(NUM_ROUNDS):
        s = apply_round(s, r)
    return s


def _validate_digest(d: Sequence[int]) -> list[int]:
    if len(d) != 4:
        raise CryptoError(CryptoErrorReason.BAD_LENGTH, "digests have 4 elements")
    return _canonical(d)


def hash_elements_reference(elems: Sequence[int]) -> Digest:
    """Return Miden's Rpo256::hash_elements digest of field elements (readable reference)."""
    elems = _canonical(elems)
    state = [0] * STATE_WIDTH
    state[CAPACITY_RANGE.start] = len(elems) % RATE_WIDTH
    i = 0
    for e in elems:
        state[RATE_RANGE.start + i] = e
        i += 1
        if i == RATE_WIDTH:
            state = permute_reference(state)
            i = 0
    if i > 0:
        for j in range(i, RATE_WIDTH):
            state[RATE_RANGE.start + j] = 0
        state = permute_reference(state)
    d = state[DIGEST_RANGE.start : DIGEST_RANGE.stop]
    return (d[0], d[1], d[2], d[3])


def merge_reference(a: Digest, b: Digest) -> Digest:
    """Return Miden's Rpo256::merge of two digests (readable reference)."""
    state = permute_reference([0, 0, 0, 0, *_validate_digest(a), *_validate_digest(b)])
    return (state[4], state[5], state[6], state[7])


# ---------------------------------------------------------------------------------------------
# Compiled path: many states at once, stored as columns of a (12, m) array so that every step
# (MDS row, S-box, each squaring of the inverse S-box chain) is a loop over independent lanes.
# ---------------------------------------------------------------------------------------------

_MDS_ROW_U64 = np.array(MDS_FIRST_ROW, dtype=np.uint64)
_ARK1_U64 = np.array(ARK1, dtype=np.uint64)
_ARK2_U64 = np.array(ARK2, dtype=np.uint64)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_LANES = 64


@njit(cache=True)
def _mds_lanes(
    s: npt.NDArray[np.uint64],
    acc_lo: npt.NDArray[np.uint64],
    acc_hi: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
    row: npt.NDArray[np.uint64],
) -> None:
    # Entries are < 2^5: accumulate the 32-bit halves separately (each sum < 2^41), then
    # recombine into a 128-bit value and reduce once.
    m = s.shape[1]
    for i in range(12):
        for k in range(m):
            acc_lo[k] = 0
            acc_hi[k] = 0
        for j in range(12):
            c = row[(j - i + 12) % 12]
            for k in range(m):
                acc_lo[k] += c * (s[j, k] & _MASK32)
                acc_hi[k] += c * (s[j, k] >> _S32)
        for k in range(m):
            t = (acc_hi[k] & _MASK32) << _S32
            lo = t + acc_lo[k]
            hi = acc_hi[k] >> _S32
            if lo < t:
                hi += np.uint64(1)
            out[i, k] = kreduce128(hi, lo)
    for i in range(12):
        for k in range(m):
            s[i, k] = out[i, k]


@njit(cache=True)
def _sq_mul(
    src: npt.NDArray[np.uint64],
    n_sq: int,
    tail: npt.NDArray[np.uint64],
    dst: npt.NDArray[np.uint64],
) -> None:
    # dst = src^(2^n_sq) * tail, element-wise (dst may not alias tail)
    for k in range(src.shape[0]):
        dst[k] = src[k]
    for _ in range(n_sq):
        for k in range(dst.shape[0]):
            dst[k] = kmul(dst[k], dst[k])
    for k in range(dst.shape[0]):
        dst[k] = kmul(dst[k], tail[k])


@njit(cache=True)
def _inv_sbox_lanes(x: npt.NDArray[np.uint64], t: npt.NDArray[np.uint64]) -> None:
    # x^INV_ALPHA with Miden's 72-multiplication addition chain, all lanes in step;
    # INV_ALPHA = 0b1001001001001001001001001001000110110110110110110110110110110111.
    t1, t2, t3, t4, t5, t6, t7 = t[0], t[1], t[2], t[3], t[4], t[5], t[6]
    for k in range(x.shape[0]):
        a = kmul(x[k], x[k])
        t1[k] = a
        t2[k] = kmul(a, a)
    _sq_mul(t2, 3, t2, t3)
    _sq_mul(t3, 6, t3, t4)
    _sq_mul(t4, 12, t4, t5)
    _sq_mul(t5, 6, t3, t6)
    _sq_mul(t6, 31, t6, t7)
    for k in range(x.shape[0]):
        a = kmul(kmul(t7[k], t7[k]), t6[k])
        a = kmul(a, a)
        a = kmul(a, a)
        x[k] = kmul(a, kmul(kmul(t1[k], t2[k]), x[k]))


@njit(cache=True)
def _permute_lanes(
    s: npt.NDArray[np.uint64],
    work: npt.NDArray[np.uint64],
    chain: npt.NDArray[np.uint64],
    row: npt.NDArray[np.uint64],
    ark1: npt.NDArray[np.uint64],
    ark2: npt.NDArray[np.uint64],
    trace: npt.NDArray[np.uint64],
    offset: int,
) -> None:
    # s: (12, m) states as columns; work: (14, m) scratch; chain: (7, 12 * m) scratch.
    # If trace is non-empty, trace[offset + k, r + 1] receives state k after round r.
    m = s.shape[1]
    flat = s.reshape(12 * m)
    record = trace.shape[0] > 0
    for r in range(7):
        _mds_lanes(s, work[12], work[13], work[:12], row)
        for i in range(12):
            c = ark1[r, i]
            for k in range(m):
                x = kadd(s[i, k], c)
                x2 = kmul(x, x)
                x4 = kmul(x2, x2)
                s[i, k] = kmul(kmul(x4, x2), x)
        _mds_lanes(s, work[12], work[13], work[:12], row)
        for i in range(12):
            c = ark2[r, i]
            for k in range(m):
                s[i, k] = kadd(s[i, k], c)
        _inv_sbox_lanes(flat, chain)
        if record:
            for k in range(m):
                for i in range(12):
                    trace[offset + k, r + 1, i] = s[i, k]


@njit(cache=True)
def _permute_rows(
    states: npt.NDArray[np.uint64],
    trace: npt.NDArray[np.uint64],
    lo: int,
    hi: int,
    row: npt.NDArray[np.uint64],
    ark1: npt.NDArray[np.uint64],
    ark2: npt.NDArray[np.uint64],
) -> None:
    # permute rows lo..hi of an (n, 12) array in place, in groups of _LANES
    m_max = min(_LANES, hi - lo)
    s = np.empty((12, m_max), dtype=np.uint64)
    work = np.empty((14, m_max), dtype=np.uint64)
    chain = np.empty((7, 12 * m_max), dtype=np.uint64)
    record = trace.shape[0] > 0
    start = lo
    while start < hi:
        m = min(m_max, hi - start)
        sv = s[:, :m].copy() if m != m_max else s
        for k in range(m):
            for i in range(12):
                sv[i, k] = states[start + k, i]
                if record:
                    trace[start + k, 0, i] = states[start + k, i]
        _permute_lanes(sv, work[:, :m], chain[:, : 12 * m], row, ark1, ark2, trace, start)
        for k in range(m):
            for i in range(12):
                states[start + k, i] = sv[i, k]
        start += m


@njit(cache=True, parallel=True)
def _permute_rows_par(
    states: npt.NDArray[np.uint64],
    trace: npt.NDArray[np.uint64],
    row: npt.NDArray[np.uint64],
    ark1: npt.NDArray[np.uint64],
    ark2: npt.NDArray[np.uint64],
    chunk: int,
) -> None:
    n = states.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        _permute_rows(states, trace, c * chunk, min(n, (c + 1) * chunk), row, ark1, ark2)


# Batches of at least this many states are split over threads.
_PARALLEL_MIN_STATES = 512
_THREAD_CHUNK = 256


_NO_TRACE = np.zeros((0, NUM_ROUNDS + 1, STATE_WIDTH), dtype=np.uint64)


def _permute_inplace(
    states: npt.NDArray[np.uint64], trace: npt.NDArray[np.uint64] = _NO_TRACE
) -> None:
    n = states.shape[0]
    if n >= _PARALLEL_MIN_STATES:
        _permute_rows_par(states, trace, _MDS_ROW_U64, _ARK1_U64, _ARK2_U64, _THREAD_CHUNK)
    elif n:
        _permute_rows(states, trace, 0, n, _MDS_ROW_U64, _ARK1_U64, _ARK2_U64)


def _check_u64(a: np.ndarray, width: int | None, name: str) -> npt.NDArray[np.uint64]:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
        raise CryptoError(CryptoErrorReason.BAD_DTYPE, f"{name}: expected a uint64 array")
    if a.ndim != 2 or (width is not None and a.shape[1] != width):
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"{name}: bad shape {a.shape}")
    if a.size and int(a.max()) >= P:
        raise CryptoError(CryptoErrorReason.NOT_CANONICAL, f"{name}: entries must be < p")
    return np.ascontiguousarray(a)


def permute_batch(states: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return the RPO permutation of every row of an (n, 12) uint64 array (a new array)."""
    out = np.array(_check_u64(states, STATE_WIDTH, "states"), copy=True)
    _permute_inplace(out)
    return out


def permute_batch_rounds(states: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return every round's state of the permutation of each row of an (n, 12) array.

    The result has shape (n, NUM_ROUNDS + 1, 12): ``out[k, 0]`` is ``states[k]`` and
    ``out[k, r + 1]`` the state after round r (what ``apply_round`` gives), so
    ``out[k, NUM_ROUNDS]`` is the permutation. Meant for filling hash-chip trace rows.
    """
    work = np.array(_check_u64(states, STATE_WIDTH, "states"), copy=True)
    trace = np.zeros((work.shape[0], NUM_ROUNDS + 1, STATE_WIDTH), dtype=np.uint64)
    if work.shape[0]:
        _permute_inplace(work, trace)
    return trace


def merge_batch(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return merge(a[i], b[i]) for (n, 4) uint64 arrays, as an (n, 4) array."""
    a = _check_u64(a, 4, "a")
    b = _check_u64(b, 4, "b")
    if a.shape != b.shape:
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"{a.shape} vs {b.shape}")
    states = np.zeros((a.shape[0], STATE_WIDTH), dtype=np.uint64)
    states[:, 4:8] = a
    states[:, 8:12] = b
    _permute_inplace(states)
    return np.ascontiguousarray(states[:, 4:8])


def hash_elements_batch(rows: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return hash_elements(rows[i]) for every row of an (n, k) uint64 array, as (n, 4).

    All rows have the same length k; the sponge absorbs them block by block, permuting
    all rows of a block together.
    """
    rows = _check_u64(rows, None, "rows")
    n, length = rows.shape
    if length == 0:
        return np.zeros((n, 4), dtype=np.uint64)
    states = np.zeros((n, STATE_WIDTH), dtype=np.uint64)
    states[:, 0] = length % RATE_WIDTH
    for start in range(0, length, RATE_WIDTH):
        block = rows[:, start : start + RATE_WIDTH]
        states[:, 4 : 4 + block.shape[1]] = block
        states[:, 4 + block.shape[1] :] = 0
        _permute_inplace(states)
    return np.ascontiguousarray(states[:, 4:8])


def permute(state: Sequence[int]) -> list[int]:
    """Return the RPO permutation of a 12-element state of canonical field elements."""
    arr = np.array([_validate_state(state)], dtype=np.uint64)
    _permute_inplace(arr)
    return [int(x) for x in arr[0].tolist()]


def hash_elements(elems: Sequence[int]) -> Digest:
    """Return Miden's Rpo256::hash_elements digest of a sequence of field elements."""
    values = _canonical(elems)
    if not values:
        return ZERO_DIGEST
    d = hash_elements_batch(np.array([values], dtype=np.uint64))[0].tolist()
    return (int(d[0]), int(d[1]), int(d[2]), int(d[3]))


def merge(a: Digest, b: Digest) -> Digest:
    """Return Miden's Rpo256::merge of two digests (the Merkle 2-to-1 compression)."""
    state = np.zeros((1, STATE_WIDTH), dtype=np.uint64)
    state[0, 4:8] = _validate_digest(a)
    state[0, 8:12] = _validate_digest(b)
    _permute_inplace(state)
    d = state[0, 4:8].tolist()
    return (int(d[0]), int(d[1]), int(d[2]), int(d[3]))
