"""Reads a running node with the tools catalog users already have.

Usage: catalog_tools_check.py NODE_URL FLOWS_SHA256

`ckanapi` (package_search, package_show, `ckanapi dump datasets --all`),
`rdflib` (parses /catalog.jsonld and finds every distribution's checksum),
`frictionless` (validates a served datapackage.json, data included).
Prints a JSON summary; exits non-zero on the first disagreement.
"""

import json
import os
import subprocess
import sys
import tempfile

import ckanapi
import frictionless
import rdflib


def main():
    node, flows_sha256 = sys.argv[1:3]
    ckan = ckanapi.RemoteCKAN(node)
    found = ckan.action.package_search(q="交通", facet_field=["tags"])
    assert found["count"] == 1, found
    assert found["results"][0]["name"] == "traffic"
    shown = ckan.action.package_show(id="traffic")
    assert shown["resources"][0]["hash"] == flows_sha256, shown["resources"][0]

    with tempfile.TemporaryDirectory() as work:
        dump = os.path.join(work, "datasets.jsonl")
        # ckanapi's dump starts worker processes by name: they must be on PATH.
        venv_bin = os.path.dirname(sys.executable)
        env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""))
        subprocess.run(
            ["ckanapi", "dump", "datasets", "--all", "-r", node, "-O", dump, "-p", "1", "-q"],
            check=True,
            env=env,
        )
        with open(dump, encoding="utf-8") as lines:
            dumped = [json.loads(line) for line in lines if line.strip()]
    assert sorted(d["name"] for d in dumped) == ["traffic", "visits"], dumped

    graph = rdflib.Graph()
    graph.parse(node + "/catalog.jsonld", format="json-ld")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    spdx = rdflib.Namespace("http://spdx.org/rdf/terms#")
    datasets = set(graph.subjects(rdflib.RDF.type, dcat.Dataset))
    assert len(datasets) == 2, datasets
    checksums = {str(value) for value in graph.objects(None, spdx.checksumValue)}
    assert flows_sha256 in checksums, checksums

    report = frictionless.validate(node + "/api/v1/datasets/traffic/versions/1/datapackage.json")
    assert report.valid, report.flatten(["type", "note"])

    print(json.dumps({"dumped": len(dumped), "datasets": len(datasets), "frictionless": "valid"}))


if __name__ == "__main__":
    main()
