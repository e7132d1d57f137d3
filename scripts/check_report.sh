#!/usr/bin/env bash
# Renders a `trawl report` page in headless Chromium (Debian's `chromium` package), takes a
# screenshot, and checks it: no console errors, every chart laid out and drawn, every table
# number equal to results.json (scripts/check_report.py).
# Also times the page: navigation start to every chart laid out, measured inside the page (median
# of 3 loads without virtual time), against a budget of MAX_MS (default 1000).
#   scripts/check_report.sh REPORT.html RESULTS_DIR [SCREENSHOT.png]
#   scripts/check_report.sh --big [SCREENSHOT.png]   # 5 datasets x 4 systems x 2,000 queries,
#       written by crates/trawl-report/tests/report.rs (cargo), also checked for < 5 MB
# Exit 0 when every check passes. Install Chromium with: apt-get install -y chromium
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${1:-}" = "--big" ]; then
  big=$(mktemp -d); trap 'rm -rf "$big"' EXIT
  (cd "$here/.." && TRAWL_REPORT_SAMPLE_DIR="$big" cargo test -q -p trawl-report --test report \
    five_datasets_four_systems > /dev/null)
  size=$(stat -c %s "$big/report.html")
  echo "5 datasets x 4 systems x 2,000 queries: report.html $size bytes"
  [ "$size" -lt $((5 << 20)) ] || { echo "FAIL report over 5 MB" >&2; exit 1; }
  exec "$0" "$big/report.html" "$big/results" "${2:-$big/report.png}"
fi
report=$1; results=$2; shot=${3:-${report%.html}.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no chromium found: apt-get install -y chromium" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# The page itself has no script; a copy gets a probe that measures every chart once laid out
# and records page errors, which --dump-dom then prints.
cp "$report" "$work/page.html"
cat >> "$work/page.html" <<'JS'
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('svg.chart')].map((s, i) => {
    const b = s.getBBox();
    const shapes = s.querySelectorAll('rect,polyline,path,circle,line').length;
    return {i, title: (s.querySelector('title') || {}).textContent || '', w: Math.round(b.width), h: Math.round(b.height), shapes};
  });
  const ms = performance.now();
  const pre = document.createElement('pre');
  pre.id = 'trawl-probe';
  pre.textContent = JSON.stringify({charts, errors: window.__errors, ms});
  document.body.appendChild(pre);
});
</script>
JS
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions
       --enable-logging=stderr --v=0 --virtual-time-budget=5000)
start=$(date +%s.%N)
"$browser" "${flags[@]}" --dump-dom "file://$work/page.html" > "$work/dom.html" 2> "$work/log.txt"
end=$(date +%s.%N)
"$browser" "${flags[@]}" --window-size=1400,2400 --screenshot="$shot" "file://$(realpath "$report")" \
  > /dev/null 2>> "$work/log.txt"
echo "rendered and dumped in $(echo "$end - $start" | bc) s (includes browser start); screenshot: $shot"
# Timing runs on the real clock (virtual time would make performance.now() virtual too).
timed=("$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --dump-dom "file://$work/page.html")
for i in 1 2 3; do "${timed[@]}" 2> /dev/null > "$work/timed$i.html"; done
python3 "$here/check_report.py" "$work/dom.html" "$work/log.txt" "$results/results.json" \
  --timed "$work"/timed{1,2,3}.html --max-ms "${MAX_MS:-1000}"
