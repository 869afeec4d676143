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


def report_and_exit(summary):
    """Prints the summary as JSON and ends the process at once.

    Delta Kernel's Python wrapper sometimes aborts while the interpreter tears
    down its threads ("terminate called without an active exception"), after
    every answer was read and checked; skipping the teardown keeps that
    client-side crash from failing a run whose checks all passed.
    """
    import os
    import sys

    sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
