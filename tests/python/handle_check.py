"""Reads a node's dataset identifiers with pyhandle's REST client, as from a Handle server.

Usage: handle_check.py NODE_URL HANDLE MISSING_HANDLE
Prints a JSON summary: the record as pyhandle reads it, the CHECKSUM value it
picks out, and what it answers for a handle the node does not hold.
"""

import json
import sys

from pyhandle.handleclient import PyHandleClient

node, handle, missing = sys.argv[1:4]
client = PyHandleClient("rest").instantiate_for_read_access(handle_server_url=node)
record = client.retrieve_handle_record(handle)
print(
    json.dumps(
        {
            "record": record,
            "checksum": client.get_value_from_handle(handle, "CHECKSUM"),
            "missing": client.retrieve_handle_record(missing),
        }
    )
)
