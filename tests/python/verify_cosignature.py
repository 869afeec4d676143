"""Independent check of a witness cosignature (C2SP tlog-cosignature, Ed25519 type).

Usage: verify_cosignature.py NODE_URL WITNESS_URL

Reads the node's checkpoint (asking it to collect its witnesses' cosignatures first)
and the witness's cosigner key from its node description, then checks, with nothing of
shulian's code: the key's id is SHA-256(name || "\\n" || 0x04 || key)[:4]; a signature
line of that name and id is 4 + 8 + 64 bytes; its Ed25519 signature verifies over
"cosignature/v1\\ntime <t>\\n" followed by the checkpoint's text. Prints a JSON summary.
"""

import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def main() -> None:
    node, witness = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
    note = fetch(f"{node}/api/v1/log/checkpoint?witnessed=true").decode()
    described = json.loads(fetch(f"{witness}/.well-known/shulian-node"))
    name, key_id_hex, encoded = described["witness"]["verifierKey"].split("+", 2)
    key_bytes = base64.b64decode(encoded)
    assert key_bytes[0] == 0x04 and len(key_bytes) == 33, "an Ed25519 cosigner key"
    public = key_bytes[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    assert key_id.hex() == key_id_hex, "the key id is the spec's"

    text, signatures = note.split("\n\n", 1)
    text += "\n"
    cosigned_at = None
    for line in signatures.splitlines():
        assert line.startswith("\u2014 "), line
        signer, signature = line[2:].split(" ", 1)
        raw = base64.b64decode(signature)
        if signer != name or raw[:4] != key_id or len(raw) != 76:
            continue
        timestamp = int.from_bytes(raw[4:12], "big")
        message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
        Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
        cosigned_at = timestamp
    assert cosigned_at is not None, f"no cosignature by {name} on\n{note}"
    origin, size = text.split("\n")[:2]
    print(json.dumps({"origin": origin, "size": int(size), "witness": name, "time": cosigned_at}))


if __name__ == "__main__":
    main()
