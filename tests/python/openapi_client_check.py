"""Generates a Python client from the node's OpenAPI document with
openapi-python-client, then calls every read (GET) operation through it.

A call passes when it answers 200 and, where the document promises a JSON
body, the generated client parsed that body into its generated model (a
missing required field, an unknown enum value or a wrong shape fails there).
Prints {"operations": {operationId: "ok" | reason}, "generated": n}.

usage: openapi_client_check.py BASE_URL WORK_DIR PUBLISHER_TOKEN ORDER_TOKEN ORDER_ID
"""

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
import urllib.request
from pathlib import Path

base_url, work_dir, publisher_token, order_token, order_id = sys.argv[1:6]
work = Path(work_dir)
with urllib.request.urlopen(base_url + "/api/v1/openapi.json") as response:
    document = json.loads(response.read())
(work / "openapi.json").write_text(json.dumps(document))
(work / "config.yml").write_text("post_hooks: []\n")
generator = Path(sys.executable).with_name("openapi-python-client")
subprocess.run(
    [str(generator), "generate", "--path", str(work / "openapi.json"), "--config", str(work / "config.yml"),
     "--output-path", str(work / "client"), "--overwrite"],
    check=True,
    capture_output=True,
)
sys.path.insert(0, str(work / "client"))
package_name = next(p.name for p in (work / "client").iterdir() if (p / "client.py").exists())
client_module = importlib.import_module(f"{package_name}.client")
api = importlib.import_module(f"{package_name}.api")

checkpoint = urllib.request.urlopen(base_url + "/api/v1/log/checkpoint").read().decode()
log_size = int(checkpoint.splitlines()[1])
# What each path or query parameter is called with, by its name in the generated functions.
arguments = {
    "dataset": "traffic",
    "version": "1",
    "name": "flows.csv",
    "order": order_id,
    "index": 0,
    "size": log_size,
    "from_": 1,
    "to": log_size,
    "demand": json.loads(urllib.request.urlopen(base_url + "/api/v1/demands").read())["items"][0]["id"],
    "start": 0,
    "end": 1,
    "tile": "0/000.p/" + str(min(log_size, 255)),
    "handle": json.loads(urllib.request.urlopen(base_url + "/.well-known/shulian-node").read())["identifierPrefix"]
    + "/traffic@1",
}
# Operations that need a credential, and which.
tokens = {"receipts": order_token, "order_status": order_token, "publisher_orders": publisher_token}

read_operations = {}
for path, operations in document["paths"].items():
    if "get" in operations:
        operation = operations["get"]
        success = operation["responses"].get("200", {}).get("content", {})
        read_operations[operation["operationId"]] = "application/json" in success

results = {}
for group in pkgutil.iter_modules(api.__path__):
    for module_info in pkgutil.iter_modules(importlib.import_module(f"{package_name}.api.{group.name}").__path__):
        module = importlib.import_module(f"{package_name}.api.{group.name}.{module_info.name}")
        operation_id = module_info.name.rstrip("_")
        if operation_id not in read_operations:
            continue
        token = tokens.get(operation_id)
        client = (
            client_module.AuthenticatedClient(base_url=base_url, token=token)
            if token
            else client_module.Client(base_url=base_url)
        )
        call = module.sync_detailed
        parameters = inspect.signature(call).parameters
        kwargs = {name: arguments[name] for name in parameters if name in arguments and parameters[name].default is inspect.Parameter.empty}
        try:
            answer = call(client=client, **kwargs)
        except Exception as error:  # a parse failure inside the generated client
            results[operation_id] = f"raised {type(error).__name__}: {error}"
            continue
        if answer.status_code != 200:
            results[operation_id] = f"status {int(answer.status_code)}: {answer.content[:200]!r}"
        elif read_operations[operation_id] and (answer.parsed is None or type(answer.parsed).__name__ == "Problem"):
            results[operation_id] = f"not parsed into its model: {answer.content[:200]!r}"
        else:
            results[operation_id] = "ok"

missing = sorted(set(read_operations) - set(results))
for operation_id in missing:
    results[operation_id] = "not generated"
print(json.dumps({"operations": results, "generated": len(results)}))
