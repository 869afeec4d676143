"""Validates a node's DCAT JSON-LD against the official DCAT-AP 3.0.1 SHACL shapes with pyshacl.

Usage: dcat_ap_check.py NODE_URL SHAPES.ttl PATH [PATH ...]

Parses every PATH of the node (the catalog and dataset documents) into one
graph and validates it. Prints a JSON summary with the violations (which
must be none) and the warnings by path and message; exits non-zero when
the graph does not conform.
"""

import collections
import json
import sys
import urllib.request

from pyshacl import validate
from rdflib import Graph
from rdflib.namespace import SH


def main():
    node, shapes_file, *paths = sys.argv[1:]
    shapes = Graph().parse(shapes_file)
    data = Graph()
    for path in paths:
        with urllib.request.urlopen(node + path) as response:
            data.parse(data=response.read().decode(), format="json-ld")
    conforms, results, _ = validate(data, shacl_graph=shapes, inference="none", advanced=True)
    found = {"Violation": collections.Counter(), "Warning": collections.Counter()}
    for result in results.subjects(SH.resultSeverity, None):
        severity = str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        if severity in found:
            path = str(results.value(result, SH.resultPath))
            message = str(results.value(result, SH.resultMessage))[:120]
            found[severity][f"{path}: {message}"] += 1
    summary = {
        "conforms": conforms,
        "triples": len(data),
        "violations": dict(found["Violation"]),
        "warnings": dict(found["Warning"]),
    }
    print(json.dumps(summary, ensure_ascii=False))
    if not conforms:
        sys.exit(1)


if __name__ == "__main__":
    main()
