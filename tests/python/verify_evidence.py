"""Independent verification of a shulian node's evidence, with public tools only.

Reads an evidence folder written by the integration test (node description,
agreement, receipt, checkpoint, inclusion proof, delivered file) and checks,
without any of shulian's code:
  - the agreement's and the receipt's eddsa-jcs-2022 proofs (RFC 8785 + Ed25519),
  - the checkpoint's C2SP signed-note signature by the node key,
  - the receipt's RFC 9162 inclusion proof against the checkpoint's root,
  - the delivered file's sha256 against the receipt.
Exits non-zero with a message on the first failure.

    python verify_evidence.py EVIDENCE_DIR
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def public_key_of(did):
    assert did.startswith("did:key:z"), did
    raw = base58.b58decode(did[len("did:key:z"):])
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        fail(f"{did} is not an Ed25519 did:key")
    return raw[2:]


def verify_data_integrity(document, public_key):
    proof = dict(document["proof"])
    if proof.get("cryptosuite") != "eddsa-jcs-2022":
        fail("not an eddsa-jcs-2022 proof")
    signature = base58.b58decode(proof.pop("proofValue")[1:])
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    if "@context" in unsigned:
        proof["@context"] = unsigned["@context"]
    hash_data = hashlib.sha256(rfc8785.dumps(proof)).digest() + hashlib.sha256(rfc8785.dumps(unsigned)).digest()
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, hash_data)
    except InvalidSignature:
        fail(f"{document.get('type')} signature does not verify")


def verify_checkpoint(note, origin, public_key):
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + public_key).digest()[:4]
    for line in signatures.splitlines():
        name, _, encoded = line.removeprefix("\u2014 ").partition(" ")
        raw = base64.b64decode(encoded)
        if name == origin and raw[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], body.encode())
            except InvalidSignature:
                fail("checkpoint signature does not verify")
            lines = body.splitlines()
            if lines[0] != origin:
                fail("checkpoint origin differs")
            return int(lines[1]), base64.b64decode(lines[2])
    fail("no checkpoint signature by the node key")


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        fail("index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            fail("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        fail("inclusion proof does not lead to the checkpoint root")


def main(folder):
    folder = Path(folder)
    load = lambda name: json.loads((folder / name).read_text(encoding="utf-8"))
    node = load("node.json")
    public_key = public_key_of(node["id"])
    agreement, receipt, inclusion = load("agreement.json"), load("receipt.json"), load("inclusion.json")

    verify_data_integrity(agreement, public_key)
    verify_data_integrity(receipt, public_key)
    if receipt["orderDigest"] != agreement["orderDigest"]:
        fail("the receipt names another order")
    order_digest = "sha256:" + hashlib.sha256(rfc8785.dumps(agreement["order"])).hexdigest()
    if order_digest != agreement["orderDigest"]:
        fail("the agreement's order digest does not match its order")
    verify_data_integrity(agreement["order"], public_key_of(agreement["order"]["buyer"]))

    size, root = verify_checkpoint((folder / "checkpoint.txt").read_text(encoding="utf-8"), node["log"]["origin"], public_key)
    leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(receipt)).digest()
    proof = [base64.b64decode(h) for h in inclusion["proof"]]
    if inclusion["treeSize"] != size or inclusion["index"] != receipt["logIndex"]:
        fail("the proof is for another index or tree size")
    verify_inclusion(receipt["logIndex"], size, leaf, proof, root)

    delivered = (folder / "delivered.bin").read_bytes()
    if hashlib.sha256(delivered).hexdigest() != receipt["sha256"] or len(delivered) != receipt["bytes"]:
        fail("the delivered bytes do not match the receipt")
    print(f"OK: agreement, order, receipt and checkpoint signatures; inclusion at {receipt['logIndex']} of {size}; file sha256")


if __name__ == "__main__":
    main(sys.argv[1])
