"""The node's public Delta Sharing profile, saved where the official client reads profiles."""

import json
import tempfile
import urllib.request


def open_profile_file(node):
    """Downloads the open-data profile the node's description links; returns its path."""
    with urllib.request.urlopen(node + "/.well-known/shulian-node") as response:
        described = json.loads(response.read())
    saved = tempfile.NamedTemporaryFile("wb", suffix=".share", delete=False)
    with urllib.request.urlopen(described["endpoints"]["openDataProfile"]) as response:
        saved.write(response.read())
    saved.close()
    return saved.name
