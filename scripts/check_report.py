#!/usr/bin/env python3
"""Checks a `trawl report` page as rendered by headless Chromium (stdlib only).

Input: the DOM Chromium dumped after the probe script ran, Chromium's stderr, results.json.
Checks: no console errors or failed loads; every chart SVG was laid out with a non-empty
bounding box and drawing elements; every number of every paper table equals results.json
(the cell's value to the bit, its text as 4 decimals); with --timed, the median over the given
dumps of the in-page time from navigation start to every chart laid out is under --max-ms.
"""
import argparse, json, re, statistics, sys
from html.parser import HTMLParser

ap = argparse.ArgumentParser()
ap.add_argument("dom"); ap.add_argument("log"); ap.add_argument("results")
ap.add_argument("--timed", nargs="*", default=[])
ap.add_argument("--max-ms", type=float, default=1000.0)
args = ap.parse_args()
dom_path, log_path, results_path = args.dom, args.log, args.results
dom = open(dom_path, encoding="utf-8").read()
log = open(log_path, encoding="utf-8", errors="replace").read()
results = json.load(open(results_path, encoding="utf-8"))
failures = []

# 1. Console errors (Chromium logs console messages to stderr with --enable-logging=stderr).
for line in log.splitlines():
    if re.search(r"CONSOLE|Uncaught|Failed to load resource|net::ERR_", line) and "dbus" not in line:
        failures.append(f"console: {line.strip()}")

# 2. The probe's findings: per chart, its bounding box and number of drawn elements.
def probe_of(text):
    m = re.search(r'<pre id="trawl-probe">(.*?)</pre>', text, re.S)
    if not m:
        return None
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))

probe = probe_of(dom)
if probe is None:
    failures.append("the probe did not run (no #trawl-probe in the dumped DOM)")
    charts, errors = [], []
else:
    charts, errors = probe["charts"], probe["errors"]
failures += [f"page error: {e}" for e in errors]
if not charts:
    failures.append("no charts found")
for c in charts:
    if c["w"] < 50 or c["h"] < 50 or c["shapes"] < 3:
        failures.append(f"chart {c['i']} ({c['title']}) did not draw: bbox {c['w']}x{c['h']}, {c['shapes']} shapes")

# 3. Table cells against results.json.
class Cells(HTMLParser):
    def __init__(self):
        super().__init__(); self.cells = []; self.cur = None; self.metric = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "paper" in (a.get("class") or ""):
            self.metric = a.get("data-metric")
        if tag == "td" and "data-value" in a:
            self.cur = {"metric": self.metric, "dataset": a["data-dataset"], "system": a["data-system"], "value": a["data-value"], "text": ""}
    def handle_data(self, data):
        if self.cur is not None:
            self.cur["text"] += data
    def handle_endtag(self, tag):
        if tag == "td" and self.cur is not None:
            self.cells.append(self.cur); self.cur = None

p = Cells(); p.feed(dom)
means = {(d["name"], s["system"], metric): v for d in results["datasets"] for s in d["systems"] for metric, v in s["mean"].items()}
want = {k for k in means if k[2] in results["metrics"]}
seen = set()
for c in p.cells:
    key = (c["dataset"], c["system"], c["metric"])
    if key not in means:
        failures.append(f"table cell {key} is not in results.json"); continue
    seen.add(key)
    if float(c["value"]) != means[key]:
        failures.append(f"table cell {key}: value {c['value']} != results.json {means[key]!r}")
    text = c["text"].replace("†", "").strip()
    if text != f"{means[key]:.4f}":
        failures.append(f"table cell {key}: shows {text!r}, results.json has {means[key]:.4f}")
for k in sorted(want - seen):
    failures.append(f"results.json value {k} is missing from the tables")

# 4. Load time: navigation start to every chart laid out, on the real clock.
times = []
for path in args.timed:
    t = probe_of(open(path, encoding="utf-8").read())
    if t is None:
        failures.append(f"timing run {path}: the probe did not run")
    else:
        times.append(t["ms"])
if times:
    med = statistics.median(times)
    print(f"load to every chart laid out: median {med:.0f} ms of {', '.join(f'{t:.0f}' for t in times)} (budget {args.max_ms:.0f} ms)")
    if med >= args.max_ms:
        failures.append(f"the page took {med:.0f} ms to load and lay out (budget {args.max_ms:.0f} ms)")

print(f"charts: {len(charts)}, table cells: {len(p.cells)} checked against {results_path}")
if failures:
    print("\n".join(f"FAIL {f}" for f in failures))
    sys.exit(1)
print("OK: no console errors, every chart drew, every table number equals results.json")
