#!/usr/bin/env python3
"""Check hbwatch's Grafana dashboard against a real Prometheus.

Usage: check_dashboard.py PROMETHEUS_URL DASHBOARD_JSON [--nonempty TITLE]...

The dashboard must have its stable uid, a datasource variable and a host
variable, and every panel must use the datasource variable.  Every panel
query and every variable query (label_values(EXPR, LABEL) gives EXPR) is
sent to PROMETHEUS_URL/api/v1/query with Grafana's variables filled in; the
answer must be "status": "success".  Panels named with --nonempty must also
return at least one series.  Prints one line per query; exit 1 on any
failure."""
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h",
        "$host": ".+", "$service": ".+"}


def fill(expr):
    for k in sorted(VARS, key=len, reverse=True):
        expr = expr.replace(k, VARS[k])
    return expr


def query(base, expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400 carries the parse error
        return json.load(e)


def main():
    base, path = sys.argv[1], sys.argv[2]
    nonempty = [sys.argv[i + 1] for i in range(3, len(sys.argv) - 1)
                if sys.argv[i] == "--nonempty"]
    with open(path) as f:
        d = json.load(f)
    bad = 0

    def fail(msg):
        nonlocal bad
        bad += 1
        print("FAIL " + msg)

    if d.get("uid") != "hbwatch-overview":
        fail("uid is %r, not hbwatch-overview" % d.get("uid"))
    tvars = {v["name"]: v for v in d["templating"]["list"]}
    if tvars.get("datasource", {}).get("type") != "datasource":
        fail("no datasource variable")
    if "host" not in tvars:
        fail("no host variable")
    exprs = []
    for v in tvars.values():
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
            exprs.append(("variable " + v["name"], m.group(1) if m else q))
    titles = set()
    for p in d["panels"]:
        titles.add(p["title"])
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail("panel %r does not use the datasource variable" % p["title"])
        for t in p["targets"]:
            exprs.append((p["title"], t["expr"]))
    for t in nonempty:
        if t not in titles:
            fail("no panel %r" % t)
    got = {}
    for title, expr in exprs:
        a = query(base, fill(expr))
        n = len(a.get("data", {}).get("result", []))
        got[title] = got.get(title, 0) + n
        line = "%s: %s (%d series): %s" % (title, a.get("status"), n, fill(expr))
        if a.get("status") != "success":
            fail(line + ": " + a.get("error", ""))
        else:
            print("ok   " + line)
    for t in nonempty:
        if got.get(t, 0) == 0:
            fail("panel %r shows no data" % t)
    print("%d queries, %d failures" % (len(exprs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
