"""Reads a running node with the official Delta Sharing client (`delta-sharing` on PyPI).

Usage: delta_sharing_check.py NODE_URL ORDER_PROFILE OPEN_SOURCE.parquet LICENSED_SOURCE.parquet

The node holds: share `city` with open dataset `trips` (table `trips`, the rows of
OPEN_SOURCE) and `flows` (a CSV shared through its Parquet copy); share
`hospital` with licensed dataset `visits` (table `visits`, the rows of
LICENSED_SOURCE), readable with ORDER_PROFILE only. Prints a JSON summary;
exits non-zero on the first disagreement.
"""

import io
import json
import sys
import urllib.request

import delta_sharing
import pyarrow.parquet as pq
from open_profile import open_profile_file


def fetch(url):
    with urllib.request.urlopen(url) as response:
        return response.read()


def main():
    node, order_profile, open_source, licensed_source = sys.argv[1:5]
    profile = open_profile_file(node)

    client = delta_sharing.SharingClient(profile)
    shares = [share.name for share in client.list_shares()]
    assert shares == ["city"], shares
    schemas = [schema.name for schema in client.list_schemas(delta_sharing.Share("city"))]
    assert schemas == ["flows", "trips"], schemas
    tables = sorted((t.share, t.schema, t.name) for t in client.list_all_tables())
    assert tables == [("city", "flows", "flows"), ("city", "trips", "trips")], tables

    expected = pq.read_table(open_source).to_pandas()
    loaded = delta_sharing.load_as_pandas(f"{profile}#city.trips.trips")
    assert loaded.shape == expected.shape, (loaded.shape, expected.shape)
    assert loaded.equals(expected), "open table differs from its source"
    # The same rows, read with pyarrow from the file the node serves for download.
    served = pq.read_table(io.BytesIO(fetch(node + "/api/v1/datasets/trips/versions/1/files/trips.parquet")))
    assert served.to_pandas().equals(loaded), "download and Delta Sharing disagree"
    limited = delta_sharing.load_as_pandas(f"{profile}#city.trips.trips", limit=7)
    assert limited.equals(expected.head(7)), "limit"
    flows = delta_sharing.load_as_pandas(f"{profile}#city.flows.flows")
    assert list(flows.columns) == ["站点", "流量"], list(flows.columns)
    assert flows["站点"].tolist() == ["东直门", "西直门"], flows

    try:
        delta_sharing.load_as_pandas(f"{profile}#hospital.visits.visits")
        raise AssertionError("a licensed table was readable with the open profile")
    except Exception as refused:  # the client raises requests' HTTPError
        status = getattr(getattr(refused, "response", None), "status_code", None)
        assert status in (403, 404), refused

    bought = delta_sharing.SharingClient(order_profile)
    assert [share.name for share in bought.list_shares()] == ["hospital"]
    # Share, schema and table names are case-insensitive.
    visits = delta_sharing.load_as_pandas(f"{order_profile}#HOSPITAL.Visits.VISITS")
    # The test order allows two downloads; each query is one, however the reader ranges over it.
    again = delta_sharing.load_as_pandas(f"{order_profile}#hospital.visits.visits")
    assert again.equals(visits)
    # A third is refused at the query, with the protocol's error and the reason.
    try:
        delta_sharing.load_as_pandas(f"{order_profile}#hospital.visits.visits")
        raise AssertionError("a third load passed a two-download order")
    except Exception as refused:
        response = getattr(refused, "response", None)
        assert getattr(response, "status_code", None) == 403, refused
        body = response.json()
        assert body["errorCode"] == "PERMISSION_DENIED", body
        assert "downloads" in body["message"], body
    assert visits.equals(pq.read_table(licensed_source).to_pandas()), "licensed table differs from its source"

    print(json.dumps({"shares": shares, "rows": len(loaded), "limited": len(limited), "licensedRows": len(visits)}))


if __name__ == "__main__":
    main()
