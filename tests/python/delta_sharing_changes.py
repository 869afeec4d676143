"""Reads tables' change data feeds with the official delta-sharing client.

usage: delta_sharing_changes.py NODE OPEN_TABLE BETWEEN ORDER_PROFILE LICENSED_TABLE
  OPEN_TABLE      share.schema.table of an open table with versions 1..3, read with the
                  node's public profile
  BETWEEN         an ISO 8601 time after version 1 was published and before version 2
  ORDER_PROFILE   the profile file of an order for version 1 of LICENSED_TABLE

Prints, per read, the rows of each (commit version, change type), e.g.
{"all": {"1": {"insert": 30}, "2": {"delete": 30, "insert": 50}}, ...}; exits non-zero
when the rows a removal deletes are not the rows its version's predecessor inserted.
"""

import contextlib
import datetime
import sys

import delta_sharing
from open_profile import open_profile_file, report_and_exit

node, open_table, between, order_profile, licensed_table = sys.argv[1:6]
url = f"{open_profile_file(node)}#{open_table}"


def counts(frame):
    """Rows per commit version and change type."""
    summary = {}
    for (version, change), rows in frame.groupby(["_commit_version", "_change_type"]).size().items():
        summary.setdefault(str(version), {})[change] = int(rows)
    return summary


every = delta_sharing.load_table_changes_as_pandas(url, starting_version=1)
first_inserts = set(every[(every._commit_version == 1) & (every._change_type == "insert")]["id"])
second_deletes = set(every[(every._commit_version == 2) & (every._change_type == "delete")]["id"])
assert first_inserts == second_deletes, "version 2 deletes exactly the rows version 1 inserted"
assert (every.groupby("_commit_version")["_commit_timestamp"].nunique() == 1).all()

# PROTOCOL.md's own timestamp format, without an offset (the server's time zone, UTC).
between_plain = (
    datetime.datetime.fromisoformat(between.replace("Z", "+00:00"))
    .astimezone(datetime.timezone.utc)
    .strftime("%Y-%m-%d %H:%M:%S.%f")
)
# The delta response format, read by Delta Kernel (which prints its own statistics).
with contextlib.redirect_stdout(sys.stderr):
    kernel = delta_sharing.load_table_changes_as_pandas(url, starting_version=1, use_delta_format=True)
    licensed_kernel = delta_sharing.load_table_changes_as_pandas(
        f"{order_profile}#{licensed_table}", starting_version=1, use_delta_format=True
    )
report_and_exit(
    {
        "all": counts(every),
        "kernel": counts(kernel),
        "second": counts(delta_sharing.load_table_changes_as_pandas(url, starting_version=2, ending_version=2)),
        "sinceTime": counts(delta_sharing.load_table_changes_as_pandas(url, starting_timestamp=between)),
        "untilTime": counts(
            delta_sharing.load_table_changes_as_pandas(url, starting_version=1, ending_timestamp=between_plain)
        ),
        "licensedKernel": counts(licensed_kernel),
        "licensed": counts(
            delta_sharing.load_table_changes_as_pandas(f"{order_profile}#{licensed_table}", starting_version=1)
        ),
    }
)
