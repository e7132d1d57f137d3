"""Generates a seeded MediaWiki export dump (templates, tables, links, references, redirects,
talk pages) and times `trawl prep wiki` on it, plain and .bz2. Prints MB/s of input read.

Usage: python3 bench/wiki_prep.py --trawl target/release/trawl [--mb 200] [--work DIR]
Standard library only. The dump is generated once under --work and reused.
"""
import argparse
import bz2
import json
import os
import random
import shutil
import statistics
import subprocess
import time

WORDS = [w.strip() for w in (
    "the of and in to was is for on as by with he at from his an were are which this be "
    "also has or had its first after new one two their she who but been not they city war "
    "team season music school university film river party church world state national "
    "american british french german history government population album series village "
    "station football league species company north south east west century county district"
).split()]


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 25))]
    out = []
    for w in words:
        r = rng.random()
        if r < 0.08:
            out.append(f"[[{w.title()} {rng.choice(WORDS)}|{w}]]")
        elif r < 0.12:
            out.append(f"[[{w}]]")
        elif r < 0.14:
            out.append(f"'''{w}'''")
        elif r < 0.16:
            out.append(f"''{w}''")
        else:
            out.append(w)
    s = " ".join(out).capitalize() + "."
    if rng.random() < 0.3:
        s += f"<ref name=\"r{rng.randint(0, 999)}\">{{{{cite web |url=https://example.org/{rng.randint(0, 10**6)} |title={rng.choice(WORDS)} |date=2020}}}}</ref>"
    return s


def article(rng):
    parts = ["{{Short description|" + " ".join(rng.choice(WORDS) for _ in range(4)) + "}}",
             "{{Infobox thing\n| name = x\n| image = {{flag|y}}\n| area = 12 km}}"]
    for section in range(rng.randint(2, 6)):
        if section:
            parts.append(f"== {rng.choice(WORDS).title()} ==")
        parts.append(" ".join(sentence(rng) for _ in range(rng.randint(3, 9))))
        if rng.random() < 0.3:
            parts.append("{| class=\"wikitable\"\n|-\n! A !! B\n|-\n| 1 || [[x|y]]\n|}")
        if rng.random() < 0.3:
            parts.append("[[File:Example.jpg|thumb|A [[caption]] here]]")
    parts.append("[[Category:" + rng.choice(WORDS).title() + "]]")
    return "\n".join(parts)


def escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def generate(path, mb, seed=0):
    rng = random.Random(seed)
    target = mb * 1_000_000
    with open(path, "w", encoding="utf-8") as f:
        f.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n')
        n = 0
        while f.tell() < target:
            n += 1
            kind = rng.random()
            if kind < 0.1:
                ns, text = 0, "#REDIRECT [[Other page]]"
            elif kind < 0.15:
                ns, text = 1, sentence(rng)
            else:
                ns, text = 0, article(rng)
            f.write(f"  <page>\n    <title>Page {n}</title>\n    <ns>{ns}</ns>\n    <id>{n}</id>\n"
                    f"    <revision>\n      <text xml:space=\"preserve\">{escape(text)}</text>\n"
                    "    </revision>\n  </page>\n")
        f.write("</mediawiki>\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl", required=True)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--work", default=os.path.join(os.path.dirname(__file__), "out", "wiki"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    xml = os.path.join(args.work, f"dump-{args.mb}mb.xml")
    if not os.path.exists(xml):
        generate(xml + ".tmp", args.mb)
        os.replace(xml + ".tmp", xml)
    packed = xml + ".bz2"
    if not os.path.exists(packed):
        with open(xml, "rb") as src, bz2.open(packed + ".tmp", "wb", compresslevel=9) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(packed + ".tmp", packed)
    xml_mb = os.path.getsize(xml) / 1e6
    medians = {}
    for path in (xml, packed):
        times, summary = [], None
        for _ in range(args.repeat):
            out = os.path.join(args.work, "passages.jsonl")
            t0 = time.perf_counter()
            res = subprocess.run([args.trawl, "prep", "wiki", path, "--out", out, "--json"],
                                 check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            summary = json.loads(res.stdout)
        med = statistics.median(times)
        size = os.path.getsize(path) / 1e6
        print(f"{os.path.basename(path)}: {size:.0f} MB on disk, {summary['passages']} passages "
              f"from {summary['articles']} articles; median {med:.2f} s = {size / med:.1f} MB/s of "
              f"file, {xml_mb / med:.1f} MB/s of XML")
        medians[path] = med
    # Peer for the .bz2 run: C libbz2's `bzcat` only decompressing the same file (no parsing),
    # timed in the same run. trawl's whole prep (decompress, parse, clean, write) over it.
    if shutil.which("bzcat"):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with open(os.devnull, "wb") as sink:
                subprocess.run(["bzcat", packed], check=True, stdout=sink)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"bzcat {os.path.basename(packed)} > /dev/null: median {med:.2f} s; trawl prep wiki on "
              f"the .bz2 takes {medians[packed] / med:.2f}x bzcat's time")


if __name__ == "__main__":
    main()
