"""Rebuilds a shulian node's log from its C2SP tlog-tiles alone, with public libraries only.

Usage: verify_tiles.py NODE_URL

Fetches the checkpoint at <node>/log/checkpoint and checks its signature
against the node's did:key; fetches every level-0 tile (full and partial)
and recomputes the RFC 6962 root, which must equal the checkpoint's; checks
that every hash of every level-1 tile is the tree hash of the full level-0
tile below it; checks that every entry of every entry bundle hashes to its
level-0 hash; and checks the node's JSON inclusion proofs against the root
computed from tiles. Prints a JSON summary; exits non-zero on any mismatch.
"""

import hashlib
import json
import struct
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from verify_evidence import fail, node_hash, public_key_of, verify_checkpoint, verify_inclusion  # noqa: E402

TILE = 256


def get(url):
    with urllib.request.urlopen(url) as response:
        return response.read()


def tile_path(index):
    """Index 1234067 -> x001/x234/067 (C2SP tlog-tiles)."""
    digits = str(index)
    digits = "0" * ((3 - len(digits) % 3) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile(node, kind, index, width):
    suffix = "" if width == TILE else f".p/{width}"
    return get(f"{node}/log/tile/{kind}/{tile_path(index)}{suffix}")


def mth(hashes):
    """RFC 6962 Merkle tree hash over leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k << 1 < len(hashes):
        k <<= 1
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(index, hashes):
    """RFC 6962 audit path of leaf `index`, computed from all leaf hashes."""
    if len(hashes) <= 1:
        return []
    k = 1
    while k << 1 < len(hashes):
        k <<= 1
    if index < k:
        return path(index, hashes[:k]) + [mth(hashes[k:])]
    return path(index - k, hashes[k:]) + [mth(hashes[:k])]


def main(node):
    description = json.loads(get(f"{node}/.well-known/shulian-node"))
    key = public_key_of(description["id"])
    origin = description["log"]["origin"]
    size, root = verify_checkpoint(get(f"{node}/log/checkpoint").decode(), origin, key)

    leaves, tiles = [], 0
    for index in range((size + TILE - 1) // TILE):
        width = min(TILE, size - index * TILE)
        data = tile(node, "0", index, width)
        tiles += 1
        if len(data) != 32 * width:
            fail(f"level-0 tile {index} has {len(data)} bytes")
        leaves += [data[i:i + 32] for i in range(0, len(data), 32)]
        bundle = tile(node, "entries", index, width)
        offset = 0
        for position in range(width):
            (length,) = struct.unpack(">H", bundle[offset:offset + 2])
            entry = bundle[offset + 2:offset + 2 + length]
            offset += 2 + length
            if hashlib.sha256(b"\x00" + entry).digest() != leaves[index * TILE + position]:
                fail(f"entry {index * TILE + position} does not hash to its tile hash")
        if offset != len(bundle):
            fail(f"entry bundle {index} has trailing bytes")
    if mth(leaves) != root:
        fail("the root rebuilt from the tiles differs from the checkpoint's")

    full_level_0 = size // TILE
    for index in range((full_level_0 + TILE - 1) // TILE):
        width = min(TILE, full_level_0 - index * TILE)
        data = tile(node, "1", index, width)
        tiles += 1
        for position in range(width):
            below = (index * TILE + position) * TILE
            if data[position * 32:(position + 1) * 32] != mth(leaves[below:below + TILE]):
                fail(f"level-1 tile {index} hash {position} is not the tree hash of the tile below")

    for index in sorted({0, size // 2, size - 1}):
        served = json.loads(get(f"{node}/api/v1/log/proof/inclusion?index={index}&size={size}"))
        proof = [__import__("base64").b64decode(h) for h in served["proof"]]
        if proof != path(index, leaves):
            fail(f"the node's inclusion proof of {index} differs from the one computed from tiles")
        verify_inclusion(index, size, leaves[index], proof, root)

    print(json.dumps({"size": size, "tiles": tiles, "entries": len(leaves)}))


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
