"""Reads an open table as of a version and as of a time with the official
delta-sharing client, and asks the table version since a time.

usage: delta_sharing_time_travel.py NODE TABLE_URL_FRAGMENT BETWEEN
       (BETWEEN: an ISO 8601 time after version 1 was published and before version 2)
Prints {"latest": rows, "version1": rows, "asOf": rows, "versionSince": n, "before": errorCode}.
"""

import sys

import delta_sharing
from delta_sharing.protocol import DeltaSharingProfile, Table
from delta_sharing.rest_client import DataSharingRestClient
from open_profile import open_profile_file, report_and_exit

node, fragment, between = sys.argv[1:4]
profile = open_profile_file(node)
url = f"{profile}#{fragment}"

latest = delta_sharing.load_as_pandas(url)
first = delta_sharing.load_as_pandas(url, version=1)
as_of = delta_sharing.load_as_pandas(url, timestamp=between)
assert as_of.equals(first), "as of a time between the versions is version 1"
# The delta response format, read by Delta Kernel.
kernel_latest = delta_sharing.load_as_pandas(url, use_delta_format=True)
kernel_first = delta_sharing.load_as_pandas(url, version=1, use_delta_format=True)
assert sorted(kernel_latest["id"]) == sorted(latest["id"]), "Delta Kernel reads the same rows"
assert sorted(kernel_first["id"]) == sorted(first["id"]), "Delta Kernel reads version 1's rows"

share, schema, name = fragment.split(".")
rest = DataSharingRestClient(DeltaSharingProfile.read_from_file(profile))
since = rest.query_table_version(Table(name=name, share=share, schema=schema), starting_timestamp=between)
try:
    delta_sharing.load_as_pandas(url, timestamp="2000-01-01T00:00:00Z")
    before = "answered"
except Exception as refused:  # requests' HTTPError
    before = refused.response.json()["errorCode"]
report_and_exit({"latest": len(latest), "version1": len(first), "asOf": len(as_of),
                 "versionSince": since.delta_table_version, "before": before})
