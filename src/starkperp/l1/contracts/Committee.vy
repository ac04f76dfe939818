# pragma version ~=0.4.3
"""
@title Committee
@notice Data availability in validium mode: a batch is accepted only with at least
        `threshold` distinct member signatures over its availability claim
        keccak256(abi_encode(DOMAIN, perpetual, batchId, newStateHash, daHash)). Members sign
        (EIP-191 personal message over the 32-byte claim) only after they stored the batch's
        state diff and rebuilt the new state from it. Signatures are given in strictly
        increasing order of signer address, so no member counts twice.
"""

MAX_MEMBERS: constant(uint256) = 16
DOMAIN: constant(bytes32) = keccak256("starkperp.committee.v1")

members: public(DynArray[address, MAX_MEMBERS])
isMember: public(HashMap[address, bool])
threshold: public(uint256)


@deploy
def __init__(_members: DynArray[address, MAX_MEMBERS], _threshold: uint256):
    assert _threshold > 0 and _threshold <= len(_members), "bad threshold"
    for m: address in _members:
        assert m != empty(address), "zero member"
        assert not self.isMember[m], "duplicate member"
        self.isMember[m] = True
    self.members = _members
    self.threshold = _threshold


@external
@pure
def claimHash(_perpetual: address, _batchId: uint256, _newStateHash: bytes32, _daHash: bytes32) -> bytes32:
    return keccak256(abi_encode(DOMAIN, _perpetual, _batchId, _newStateHash, _daHash))


@external
@view
def verifyAvailability(_claimHash: bytes32, _signatures: DynArray[Bytes[65], MAX_MEMBERS]) -> bool:
    """Revert unless at least `threshold` distinct members signed `_claimHash`."""
    assert len(_signatures) >= self.threshold, "not enough signatures"
    digest: bytes32 = keccak256(concat(b"\x19Ethereum Signed Message:\n32", _claimHash))
    last: uint256 = 0
    for sig: Bytes[65] in _signatures:
        assert len(sig) == 65, "bad signature length"
        r: uint256 = extract32(sig, 0, output_type=uint256)
        s: uint256 = extract32(sig, 32, output_type=uint256)
        v: uint256 = convert(slice(sig, 64, 1), uint256)
        if v < 27:
            v += 27
        signer: address = ecrecover(digest, v, r, s)
        assert self.isMember[signer], "signer is not a member"
        assert convert(signer, uint256) > last, "signers not strictly increasing"
        last = convert(signer, uint256)
    return True
