"""Replays the gather stage of ckanext-harvest's CKANHarvester against a node.

The harvester pages through `package_search` 100 rows at a time, sorted by
`id asc`, with its `fq` terms joined by spaces: organization include filters
(`organization:a OR organization:b`), exclude filters (`-organization:x`) and,
after a successful harvest, `metadata_modified:[<since>Z TO *]`. It stops at
the first empty page, drops ids seen on earlier pages, and gives up if a page
repeats the previous one. This script does the same and prints, for each
gather, the ids found, the pages read and how many duplicates were dropped.

usage: ckan_harvest_gather.py BASE_URL SINCE INCLUDE_ORGS EXCLUDE_ORGS
       (SINCE a naive UTC ISO time; the org lists comma-separated)
"""

import json
import sys
import urllib.parse
import urllib.request


def gather(base_url, fq_terms):
    params = {"rows": "100", "start": "0", "sort": "id asc"}
    if fq_terms:
        params["fq"] = " ".join(fq_terms)
    ids, seen, pages, duplicates, previous = [], set(), 0, 0, None
    while True:
        url = base_url + "/api/3/action/package_search?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url) as response:
            content = response.read()
        if previous is not None and content == previous:
            raise SystemExit(f"the paging does not work: {url}")
        previous = content
        answer = json.loads(content)
        if not answer.get("success"):
            raise SystemExit(f"{url}: {answer}")
        page = answer["result"]["results"]
        pages += 1
        for package in page:
            if package["id"] in seen:
                duplicates += 1
                continue
            seen.add(package["id"])
            ids.append(package["id"])
        if not page:
            break
        params["start"] = str(int(params["start"]) + int(params["rows"]))
    return {"ids": ids, "pages": pages, "duplicates": duplicates}


def main():
    base_url, since, include, exclude = sys.argv[1:5]
    include_terms = [" OR ".join(f"organization:{org}" for org in include.split(","))]
    exclude_terms = [f"-organization:{org}" for org in exclude.split(",")]
    since_term = f"metadata_modified:[{since}Z TO *]"
    print(
        json.dumps(
            {
                "full": gather(base_url, []),
                "include": gather(base_url, include_terms),
                "exclude": gather(base_url, exclude_terms),
                "since": gather(base_url, [since_term]),
                "include_since": gather(base_url, include_terms + [since_term]),
            }
        )
    )


main()
