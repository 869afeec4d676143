"""Talks native DOIP to a node with doipy (whose transport is doip-sdk): Hello, the
service's operations, a dataset version retrieved as a digital object and one of its
open files retrieved as an element, a search, and a licensed file refused.
Prints what it got as JSON for the Rust test to judge.

usage: doip_check.py HOST PORT SERVICE_ID OPEN_TARGET OPEN_FILE LICENSED_TARGET LICENSED_FILE QUERY
"""

import hashlib
import json
import os
import sys
import tempfile

from doipy.actions import doip

host, port, service, open_target, open_file, licensed_target, licensed_file, query = sys.argv[1:9]
port = int(port)

hello = doip.hello(service, host, port)
operations = doip.list_operations(service, host, port)
retrieved = doip.retrieve(open_target, host, port)
with tempfile.TemporaryDirectory() as work:
    os.chdir(work)
    element = doip.retrieve(open_target, host, port, file=open_file)
    saved = os.listdir(work)
    digest = hashlib.sha256(open(os.path.join(work, saved[0]), "rb").read()).hexdigest() if saved else None
    os.chdir("/")
licensed = doip.retrieve(licensed_target, host, port, file=licensed_file)
found = doip.search(service, host, port, query)
unknown = doip.retrieve(service.split("/")[0] + "/no-such-dataset", host, port)

print(json.dumps({
    "hello": hello,
    "operations": operations,
    "retrieved": retrieved,
    "element": element,
    "saved": saved,
    "sha256": digest,
    "licensed": licensed,
    "search": found,
    "unknown": unknown,
}))
