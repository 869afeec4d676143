"""Says hello to a node's native DOIP listener with doipy and lists the service's
operations; prints both as JSON.

usage: doip_hello.py HOST PORT SERVICE_ID
"""

import json
import sys

from doipy.actions import doip

host, port, service = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(json.dumps({
    "hello": doip.hello(service, host, port),
    "operations": doip.list_operations(service, host, port),
}))
