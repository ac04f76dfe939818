"""keccak256 (Ethereum's hash: Keccak-f[1600], rate 136 bytes, padding 0x01 ... 0x80).

* :func:`keccak256` hashes one byte string through pycryptodome; it is the reference.
* :func:`keccak256_batch` hashes every row of an ``(n, L)`` uint8 array at once with a numba
  Keccak-f[1600] (unrolled round, 64-bit lanes in little-endian order), multi-threaded over
  rows; :func:`keccak256_batch_serial` is the single-threaded twin.
* :func:`keccak256_pairs` hashes ``left[i] || right[i]`` for Merkle parents,
  ``(n, 32) + (n, 32) -> (n, 32)``, without copying the inputs into padded blocks.
* :func:`keccak256_felt_columns` hashes the rows of a column-major ``(w, n)`` uint64 array,
  each row serialised as w 8-byte big-endian words, inside the kernel (no transposed byte
  copy); :func:`keccak256_merkle_levels` builds every level of a Merkle tree over ``(n, 32)``
  leaf digests in one compiled call.

The compiled paths read lanes by viewing bytes as ``uint64``, so they assume a little-endian
host (x86-64, aarch64); the module checks this on import.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
from Crypto.Hash import keccak as _pycryptodome_keccak
from numba import njit, prange

from starkperp.crypto.errors import CryptoError, CryptoErrorReason

__all__ = [
    "RATE_BYTES",
    "keccak256",
    "keccak256_batch",
    "keccak256_batch_serial",
    "keccak256_felt_columns",
    "keccak256_merkle_levels",
    "keccak256_pairs",
]

assert sys.byteorder == "little", "the compiled keccak path assumes a little-endian host"

RATE_BYTES = 136
_RATE_LANES = RATE_BYTES // 8
_ROWS_PER_CHUNK = 256

_RC = np.array(
    [
        0x0000000000000001,
        0x0000000000008082,
        0x800000000000808A,
        0x8000000080008000,
        0x000000000000808B,
        0x0000000080000001,
        0x8000000080008081,
        0x8000000000008009,
        0x000000000000008A,
        0x0000000000000088,
        0x0000000080008009,
        0x000000008000000A,
        0x000000008000808B,
        0x800000000000008B,
        0x8000000000008089,
        0x8000000000008003,
        0x8000000000008002,
        0x8000000000000080,
        0x000000000000800A,
        0x800000008000000A,
        0x8000000080008081,
        0x8000000000008080,
        0x0000000080000001,
        0x8000000080008008,
    ],
    dtype=np.uint64,
)


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte keccak256 digest of ``data`` (reference, pycryptodome)."""
    return _pycryptodome_keccak.new(digest_bits=256, data=bytes(data)).digest()


@njit(cache=True)
def _keccak_f(s: npt.NDArray[np.uint64], rc: npt.NDArray[np.uint64]) -> None:
    # Keccak-f[1600] on the 25 lanes of s (lane index x + 5y), in place. The round is written
    # out over 25 local lane variables so numba keeps the state in registers: theta (column
    # parities c, mixers d), rho and pi (b[y + 5((2x + 3y) % 5)] = rot(a[x + 5y] ^ d[x],
    # r[x + 5y]) with FIPS 202's rotation offsets), chi, and iota (round constant into lane 0).
    a0 = s[0]
    a1 = s[1]
    a2 = s[2]
    a3 = s[3]
    a4 = s[4]
    a5 = s[5]
    a6 = s[6]
    a7 = s[7]
    a8 = s[8]
    a9 = s[9]
    a10 = s[10]
    a11 = s[11]
    a12 = s[12]
    a13 = s[13]
    a14 = s[14]
    a15 = s[15]
    a16 = s[16]
    a17 = s[17]
    a18 = s[18]
    a19 = s[19]
    a20 = s[20]
    a21 = s[21]
    a22 = s[22]
    a23 = s[23]
    a24 = s[24]
    for rnd in range(24):
        # theta
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ ((c1 << np.uint64(1)) | (c1 >> np.uint64(63)))
        d1 = c0 ^ ((c2 << np.uint64(1)) | (c2 >> np.uint64(63)))
        d2 = c1 ^ ((c3 << np.uint64(1)) | (c3 >> np.uint64(63)))
        d3 = c2 ^ ((c4 << np.uint64(1)) | (c4 >> np.uint64(63)))
        d4 = c3 ^ ((c0 << np.uint64(1)) | (c0 >> np.uint64(63)))
        # rho and pi
        b0 = a0 ^ d0
        b16 = ((a5 ^ d0) << np.uint64(36)) | ((a5 ^ d0) >> np.uint64(28))
        b7 = ((a10 ^ d0) << np.uint64(3)) | ((a10 ^ d0) >> np.uint64(61))
        b23 = ((a15 ^ d0) << np.uint64(41)) | ((a15 ^ d0) >> np.uint64(23))
        b14 = ((a20 ^ d0) << np.uint64(18)) | ((a20 ^ d0) >> np.uint64(46))
        b10 = ((a1 ^ d1) << np.uint64(1)) | ((a1 ^ d1) >> np.uint64(63))
        b1 = ((a6 ^ d1) << np.uint64(44)) | ((a6 ^ d1) >> np.uint64(20))
        b17 = ((a11 ^ d1) << np.uint64(10)) | ((a11 ^ d1) >> np.uint64(54))
        b8 = ((a16 ^ d1) << np.uint64(45)) | ((a16 ^ d1) >> np.uint64(19))
        b24 = ((a21 ^ d1) << np.uint64(2)) | ((a21 ^ d1) >> np.uint64(62))
        b20 = ((a2 ^ d2) << np.uint64(62)) | ((a2 ^ d2) >> np.uint64(2))
        b11 = ((a7 ^ d2) << np.uint64(6)) | ((a7 ^ d2) >> np.uint64(58))
        b2 = ((a12 ^ d2) << np.uint64(43)) | ((a12 ^ d2) >> np.uint64(21))
        b18 = ((a17 ^ d2) << np.uint64(15)) | ((a17 ^ d2) >> np.uint64(49))
        b9 = ((a22 ^ d2) << np.uint64(61)) | ((a22 ^ d2) >> np.uint64(3))
        b5 = ((a3 ^ d3) << np.uint64(28)) | ((a3 ^ d3) >> np.uint64(36))
        b21 = ((a8 ^ d3) << np.uint64(55)) | ((a8 ^ d3) >> np.uint64(9))
        b12 = ((a13 ^ d3) << np.uint64(25)) | ((a13 ^ d3) >> np.uint64(39))
        b3 = ((a18 ^ d3) << np.uint64(21)) | ((a18 ^ d3) >> np.uint64(43))
        b19 = ((a23 ^ d3) << np.uint64(56)) | ((a23 ^ d3) >> np.uint64(8))
        b15 = ((a4 ^ d4) << np.uint64(27)) | ((a4 ^ d4) >> np.uint64(37))
        b6 = ((a9 ^ d4) << np.uint64(20)) | ((a9 ^ d4) >> np.uint64(44))
        b22 = ((a14 ^ d4) << np.uint64(39)) | ((a14 ^ d4) >> np.uint64(25))
        b13 = ((a19 ^ d4) << np.uint64(8)) | ((a19 ^ d4) >> np.uint64(56))
        b4 = ((a24 ^ d4) << np.uint64(14)) | ((a24 ^ d4) >> np.uint64(50))
        # chi
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        # iota
        a0 ^= rc[rnd]

    s[0] = a0
    s[1] = a1
    s[2] = a2
    s[3] = a3
    s[4] = a4
    s[5] = a5
    s[6] = a6
    s[7] = a7
    s[8] = a8
    s[9] = a9
    s[10] = a10
    s[11] = a11
    s[12] = a12
    s[13] = a13
    s[14] = a14
    s[15] = a15
    s[16] = a16
    s[17] = a17
    s[18] = a18
    s[19] = a19
    s[20] = a20
    s[21] = a21
    s[22] = a22
    s[23] = a23
    s[24] = a24


@njit(cache=True)
def _hash_rows(
    lanes: npt.NDArray[np.uint64],
    n_blocks: int,
    out: npt.NDArray[np.uint64],
    lo: int,
    hi: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    s = np.zeros(25, dtype=np.uint64)
    for r in range(lo, hi):
        for i in range(25):
            s[i] = 0
        for blk in range(n_blocks):
            base = blk * 17
            for i in range(17):
                s[i] ^= lanes[r, base + i]
            _keccak_f(s, rc)
        out[r, 0] = s[0]
        out[r, 1] = s[1]
        out[r, 2] = s[2]
        out[r, 3] = s[3]


@njit(cache=True, parallel=True)
def _hash_rows_par(
    lanes: npt.NDArray[np.uint64],
    n_blocks: int,
    out: npt.NDArray[np.uint64],
    chunk: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    n = lanes.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        _hash_rows(lanes, n_blocks, out, c * chunk, min(n, (c + 1) * chunk), rc)


@njit(cache=True)
def _hash_pairs(
    left: npt.NDArray[np.uint64],
    right: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
    lo: int,
    hi: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    s = np.zeros(25, dtype=np.uint64)
    for r in range(lo, hi):
        for i in range(25):
            s[i] = 0
        s[0] = left[r, 0]
        s[1] = left[r, 1]
        s[2] = left[r, 2]
        s[3] = left[r, 3]
        s[4] = right[r, 0]
        s[5] = right[r, 1]
        s[6] = right[r, 2]
        s[7] = right[r, 3]
        s[8] = np.uint64(0x01)
        s[16] = np.uint64(0x8000000000000000)
        _keccak_f(s, rc)
        out[r, 0] = s[0]
        out[r, 1] = s[1]
        out[r, 2] = s[2]
        out[r, 3] = s[3]


@njit(cache=True, parallel=True)
def _hash_pairs_par(
    left: npt.NDArray[np.uint64],
    right: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
    chunk: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    n = left.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        _hash_pairs(left, right, out, c * chunk, min(n, (c + 1) * chunk), rc)


def _check_rows(rows: np.ndarray) -> npt.NDArray[np.uint8]:
    if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8:
        raise CryptoError(CryptoErrorReason.BAD_DTYPE, "expected a numpy uint8 array")
    if rows.ndim != 2:
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"expected (n, L), got {rows.shape}")
    return rows


def _pad_to_lanes(rows: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint64], int]:
    n, length = rows.shape
    n_blocks = length // RATE_BYTES + 1
    padded = np.zeros((n, n_blocks * RATE_BYTES), dtype=np.uint8)
    padded[:, :length] = rows
    padded[:, length] ^= 0x01
    padded[:, -1] ^= 0x80
    return padded.view(np.uint64), n_blocks


def _digest_bytes(out: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    return out.view(np.uint8).reshape(out.shape[0], 32)


def keccak256_batch(rows: npt.NDArray[np.uint8], parallel: bool = True) -> npt.NDArray[np.uint8]:
    """Return the keccak256 digests, shape (n, 32), of the n rows of an (n, L) uint8 array."""
    rows = _check_rows(rows)
    lanes, n_blocks = _pad_to_lanes(rows)
    out = np.zeros((rows.shape[0], 4), dtype=np.uint64)
    if parallel and rows.shape[0] > _ROWS_PER_CHUNK:
        _hash_rows_par(lanes, n_blocks, out, _ROWS_PER_CHUNK, _RC)
    else:
        _hash_rows(lanes, n_blocks, out, 0, rows.shape[0], _RC)
    return _digest_bytes(out)


def keccak256_batch_serial(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Return keccak256 of every row like :func:`keccak256_batch`, on one thread."""
    return keccak256_batch(rows, parallel=False)


def _as_digest_lanes(a: np.ndarray, name: str) -> npt.NDArray[np.uint64]:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8:
        raise CryptoError(CryptoErrorReason.BAD_DTYPE, f"{name}: expected a uint8 array")
    if a.ndim != 2 or a.shape[1] != 32:
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"{name}: expected (n, 32), got {a.shape}")
    return np.ascontiguousarray(a).view(np.uint64)


def keccak256_pairs(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8], parallel: bool = True
) -> npt.NDArray[np.uint8]:
    """Return keccak256(left[i] || right[i]) for (n, 32) uint8 arrays, shape (n, 32)."""
    lft = _as_digest_lanes(left, "left")
    rgt = _as_digest_lanes(right, "right")
    if lft.shape != rgt.shape:
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"{left.shape} vs {right.shape}")
    out = np.zeros((lft.shape[0], 4), dtype=np.uint64)
    if parallel and lft.shape[0] > _ROWS_PER_CHUNK:
        _hash_pairs_par(lft, rgt, out, _ROWS_PER_CHUNK, _RC)
    else:
        _hash_pairs(lft, rgt, out, 0, lft.shape[0], _RC)
    return _digest_bytes(out)


_BYTES_8 = np.uint64(0x00FF00FF00FF00FF)
_BYTES_16 = np.uint64(0x0000FFFF0000FFFF)
_LAST_PAD = np.uint64(0x8000000000000000)


@njit(cache=True)
def _bswap64(x: np.uint64) -> np.uint64:
    # the little-endian lane of an 8-byte big-endian word
    x = ((x & _BYTES_8) << np.uint64(8)) | ((x >> np.uint64(8)) & _BYTES_8)
    x = ((x & _BYTES_16) << np.uint64(16)) | ((x >> np.uint64(16)) & _BYTES_16)
    return (x << np.uint64(32)) | (x >> np.uint64(32))


_FELT_TILE = 16  # rows copied point-major at a time before hashing (the copy stays in L1)


@njit(cache=True)
def _hash_felt_columns(
    cols: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
    lo: int,
    hi: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    # Row r's message is cols[0, r] || ... || cols[w-1, r], each word big-endian, so its lane j
    # (j < w) is bswap(cols[j, r]); lane w starts the 0x01 padding, the last lane ends in 0x80.
    # Rows are hashed a tile at a time: the tile's lanes, padding included, are first copied
    # row-major (reading each column sequentially), so absorbing reads contiguous memory.
    width = cols.shape[0]
    n_blocks = (8 * width) // 136 + 1
    n_lanes = 17 * n_blocks
    tile = np.zeros((_FELT_TILE, n_lanes), dtype=np.uint64)
    for t in range(_FELT_TILE):
        tile[t, width] = np.uint64(0x01)
        tile[t, n_lanes - 1] ^= _LAST_PAD
    s = np.zeros(25, dtype=np.uint64)
    for start in range(lo, hi, _FELT_TILE):
        m = min(hi, start + _FELT_TILE) - start
        for j in range(width):
            for t in range(m):
                tile[t, j] = _bswap64(cols[j, start + t])
        for t in range(m):
            for i in range(25):
                s[i] = 0
            for blk in range(n_blocks):
                base = 17 * blk
                for i in range(17):
                    s[i] ^= tile[t, base + i]
                _keccak_f(s, rc)
            r = start + t
            out[r, 0] = s[0]
            out[r, 1] = s[1]
            out[r, 2] = s[2]
            out[r, 3] = s[3]


@njit(cache=True, parallel=True)
def _hash_felt_columns_par(
    cols: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
    chunk: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    n = cols.shape[1]
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        _hash_felt_columns(cols, out, c * chunk, min(n, (c + 1) * chunk), rc)


def keccak256_felt_columns(
    columns: npt.NDArray[np.uint64], parallel: bool = True
) -> npt.NDArray[np.uint8]:
    """Return the (n, 32) digests of the n rows of a (w, n) uint64 column array.

    Row r is hashed as the bytes ``columns[0, r] || ... || columns[w-1, r]``, each value as
    8 bytes big-endian: the same digests as :func:`keccak256_batch` of the big-endian bytes
    of ``columns.T``, without materialising that copy.
    """
    if not isinstance(columns, np.ndarray) or columns.dtype != np.uint64:
        raise CryptoError(CryptoErrorReason.BAD_DTYPE, "expected a numpy uint64 array")
    if columns.ndim != 2:
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"expected (w, n), got {columns.shape}")
    cols = columns if columns.flags.c_contiguous else np.ascontiguousarray(columns)
    n = cols.shape[1]
    out = np.zeros((n, 4), dtype=np.uint64)
    if parallel and n > _ROWS_PER_CHUNK:
        _hash_felt_columns_par(cols, out, _ROWS_PER_CHUNK, _RC)
    else:
        _hash_felt_columns(cols, out, 0, n, _RC)
    return _digest_bytes(out)


@njit(cache=True)
def _hash_level(
    nodes: npt.NDArray[np.uint64],
    child: int,
    parent: int,
    lo: int,
    hi: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    # nodes[parent + i] = keccak(nodes[child + 2i] || nodes[child + 2i + 1]) for lo <= i < hi
    s = np.zeros(25, dtype=np.uint64)
    for i in range(lo, hi):
        left = child + 2 * i
        for t in range(25):
            s[t] = 0
        for t in range(4):
            s[t] = nodes[left, t]
            s[4 + t] = nodes[left + 1, t]
        s[8] = np.uint64(0x01)
        s[16] = _LAST_PAD
        _keccak_f(s, rc)
        for t in range(4):
            nodes[parent + i, t] = s[t]


@njit(cache=True, parallel=True)
def _hash_level_par(
    nodes: npt.NDArray[np.uint64],
    child: int,
    parent: int,
    count: int,
    chunk: int,
    rc: npt.NDArray[np.uint64],
) -> None:
    n_chunks = (count + chunk - 1) // chunk
    for c in prange(n_chunks):
        _hash_level(nodes, child, parent, c * chunk, min(count, (c + 1) * chunk), rc)


@njit(cache=True)
def _hash_small_levels(
    nodes: npt.NDArray[np.uint64], child: int, count: int, rc: npt.NDArray[np.uint64]
) -> None:
    # every level from the one with ``count`` parents (children at ``child``) up to the root
    while count >= 1:
        parent = child + 2 * count
        _hash_level(nodes, child, parent, 0, count, rc)
        child = parent
        count //= 2


def keccak256_merkle_levels(
    leaves: npt.NDArray[np.uint8], parallel: bool = True
) -> list[npt.NDArray[np.uint8]]:
    """Return every level of the keccak256 Merkle tree over (n, 32) leaf digests.

    n must be a power of two; level 0 is a copy of the leaves, each next level holds
    ``keccak256(left || right)`` of consecutive pairs, the last level is the (1, 32) root. All
    levels are views into one (2n - 1, 32) buffer, filled by compiled code; the large levels
    are hashed on all threads, the small ones in a single call.
    """
    lanes = _as_digest_lanes(leaves, "leaves")
    n = lanes.shape[0]
    if n == 0 or n & (n - 1):
        raise CryptoError(CryptoErrorReason.BAD_SHAPE, f"leaf count must be 2^k, got {n}")
    nodes = np.empty((2 * n - 1, 4), dtype=np.uint64)
    nodes[:n] = lanes
    child = 0
    count = n // 2
    while parallel and count > 4 * _ROWS_PER_CHUNK:
        _hash_level_par(nodes, child, child + 2 * count, count, _ROWS_PER_CHUNK, _RC)
        child += 2 * count
        count //= 2
    if count >= 1:
        _hash_small_levels(nodes, child, count, _RC)
    digests = _digest_bytes(nodes)
    levels = []
    start = 0
    width = n
    while width >= 1:
        levels.append(digests[start : start + width])
        start += width
        width //= 2
    return levels
