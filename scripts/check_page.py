#!/usr/bin/env python3
"""Opens the backtest's HTML page (`trailguard backtest --html`) in a real headless Chromium
and checks what a person would see against the JSON summary of the same run (`--json`):

- it renders: the title, the headings, a chart with a size, a screenshot;
- the chart has one bar group per day of the summary, in order, and each bar's rendered
  height is its count over the chart's largest column (one bar per function, decision and
  day the summary counts);
- every number on the page is the JSON summary's at the place its `data-key` names, as shown
  (separators aside), and every count of the summary's totals, decisions, days and facts is
  on the page;
- nothing was loaded from anywhere (no resource, no script, no image), hostile strings in the
  records included.

    python3 check_page.py PAGE.html SUMMARY.json [--screenshot OUT.png]

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no port is
opened, and nothing but the standard library is needed. Exits non-zero, listing every failure.
"""
import argparse
import base64
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CHROMIUM = os.environ.get("TRAILGUARD_CHROMIUM", "/usr/bin/chromium")
# How far a bar's rendered height may be from its count's, in pixels.
TOLERANCE_PX = 0.6
# The most days the chart draws (shared/backtest/src/html.rs CHART_DAYS).
CHART_DAYS = 400


class Browser:
    """One headless Chromium, spoken to over fds 3 (to it) and 4 (from it)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="trailguard-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # The child's fds 3 and 4 must be these pipes: after the fork, move them out of the
        # way first (either may be 3 or 4 already), then into place.
        def fds():
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe (did it start?)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# Run in the page: what the checks need, as JSON.
PROBE = r"""
(() => {
  const rect = e => { const r = e.getBoundingClientRect(); return {w: r.width, h: r.height}; };
  const chart = document.querySelector('svg.chart');
  const inClosedDetails = e => { for (let p = e; p; p = p.parentElement) if (p.tagName === 'DETAILS' && !p.open) return true; return false; };
  return JSON.stringify({
    title: document.title,
    h1: (document.querySelector('h1') || {}).textContent || '',
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
    chart: chart ? {size: rect(chart), max: +chart.dataset.max, barHeight: +chart.dataset.barHeight} : null,
    days: [...document.querySelectorAll('svg.chart g.day')].map(g => ({
      day: g.dataset.day,
      bars: [...g.querySelectorAll('rect')].map(r => ({key: r.dataset.key, value: +r.dataset.value, h: rect(r).h, w: rect(r).w})),
    })),
    numbers: [...document.querySelectorAll('data[data-key]')].map(d => ({
      key: d.dataset.key, value: d.value, text: d.textContent,
      visible: inClosedDetails(d) || (d.getClientRects().length > 0),
    })),
    resources: performance.getEntriesByType('resource').map(r => r.name),
    active: document.querySelectorAll('script,img,iframe,object,embed,link,video,audio,source,form').length,
    bodyText: document.body.innerText.length,
  });
})()
"""


def pointer(doc, key):
    """The value at a JSON pointer (RFC 6901), or None."""
    if key == "":
        return doc
    cur = doc
    for part in key.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def esc(part):
    return part.replace("~", "~0").replace("/", "~1")


def expected_keys(summary):
    """The counts the page must show: totals, decisions, the chart's days, facts."""
    keys = {f"/{k}" for k in ("objects", "objects_filtered", "records", "bytes", "records_filtered",
                              "not_delivered", "bad_records", "skipped")}
    for f, m in summary.get("decisions", {}).items():
        for k in ("remediate", "notify", "ignore"):
            keys.add(f"/decisions/{esc(f)}/{k}")
    for d, by_f in summary.get("daily", {}).items():
        for f, m in by_f.items():
            for k, n in m.items():
                keys.add(f"/daily/{esc(d)}/{esc(f)}/{esc(k)}")
    for fact in summary.get("assumed", {}):
        keys.add(f"/assumed/{esc(fact)}")
    return keys


def check(page_path, summary_path, screenshot):
    summary = json.load(open(summary_path))
    failures = []
    b = Browser()
    try:
        target = b.call("Target.createTarget", url="about:blank")["targetId"]
        session = b.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        b.call("Page.enable", session)
        b.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=900,
               deviceScaleFactor=1, mobile=False)
        b.call("Page.navigate", session, url="file://" + os.path.abspath(page_path))
        b.wait_event("Page.loadEventFired")
        got = json.loads(b.call("Runtime.evaluate", session, expression=PROBE,
                                returnByValue=True)["result"]["value"])
        shot = b.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        png = base64.b64decode(shot["data"])
        if screenshot:
            with open(screenshot, "wb") as f:
                f.write(png)
    finally:
        b.close()

    # It renders.
    if got["title"] != "trailguard backtest" or "trailguard backtest" not in got["h1"]:
        failures.append(f"the page did not render its title: {got['title']!r} / {got['h1']!r}")
    for h in ("Read", "By day", "Decisions by function", "Top reasons",
              "Whose changes would have been reverted", "Facts taken as absent", "Unreadable"):
        if h not in got["headings"]:
            failures.append(f"no section {h!r} (sections: {got['headings']})")
    if not got["chart"] or got["chart"]["size"]["w"] <= 0 or got["chart"]["size"]["h"] <= 0:
        failures.append(f"the chart has no size: {got['chart']}")
    if len(png) < 5000 or got["bodyText"] < 200:
        failures.append(f"the page looks empty: a {len(png)}-byte screenshot, {got['bodyText']} characters")

    # One bar group per day, each bar as tall as its count.
    # The chart draws the latest CHART_DAYS days (shared/backtest/src/html.rs).
    days = sorted(set(summary.get("timeline", {})) | set(summary.get("daily", {})))[-CHART_DAYS:]
    shown_days = [d["day"] for d in got["days"]]
    if shown_days != days:
        failures.append(f"bar groups {shown_days} are not the summary's days {days}")
    chart = got["chart"] or {"max": 0, "barHeight": 0}
    column = {}
    for d, by_f in summary.get("daily", {}).items():
        if d not in days:
            continue
        for f, m in by_f.items():
            for k, n in m.items():
                column[(d, k)] = column.get((d, k), 0) + n
    largest = max(column.values(), default=0)
    if chart["max"] != max(largest, 1):
        failures.append(f"the chart's scale is {chart['max']}, the largest day column is {largest}")
    bars = {}
    for g in got["days"]:
        for bar in g["bars"]:
            want = pointer(summary, bar["key"])
            if not bar["key"].startswith(f"/daily/{esc(g['day'])}/"):
                failures.append(f"day {g['day']} has a bar of another day: {bar['key']}")
            if want != bar["value"]:
                failures.append(f"bar {bar['key']}: {bar['value']}, the summary says {want}")
            h = bar["value"] * chart["barHeight"] / max(chart["max"], 1)
            if abs(bar["h"] - h) > TOLERANCE_PX or bar["h"] <= 0 or bar["w"] <= 0:
                failures.append(f"bar {bar['key']} is {bar['h']:.2f}px high, {bar['w']:.2f}px wide: {h:.2f}px high expected")
            bars[bar["key"]] = bar["value"]
    for d, by_f in summary.get("daily", {}).items():
        if d not in days:
            continue
        for f, m in by_f.items():
            for k, n in m.items():
                key = f"/daily/{esc(d)}/{esc(f)}/{esc(k)}"
                if n > 0 and key not in bars:
                    failures.append(f"no bar for {key} ({n})")

    # Every number is the summary's, and every count is there.
    shown = set()
    for n in got["numbers"]:
        want = pointer(summary, n["key"])
        want = 0 if want is None else want
        if not isinstance(want, int) or str(want) != n["value"]:
            failures.append(f"{n['key']}: the page says {n['value']}, the summary {want!r}")
        if n["text"].replace(",", "") != n["value"]:
            failures.append(f"{n['key']}: shown as {n['text']!r}, its value is {n['value']}")
        if not n["visible"]:
            failures.append(f"{n['key']} is not displayed")
        shown.add(n["key"])
    for key in sorted(expected_keys(summary) - shown):
        failures.append(f"the summary's {key} is not on the page")
    for f, by_kind in summary.get("reasons", {}).items():
        for k, m in by_kind.items():
            want = min(len(m), 10)
            have = sum(1 for key in shown if key.startswith(f"/reasons/{esc(f)}/{esc(k)}/"))
            if have != want:
                failures.append(f"{have} reasons shown for {f} {k}, {want} expected")
    actors_shown = {key.split("/")[2] for key in shown if key.startswith("/actors/")}
    if len(actors_shown) != min(len(summary.get("actors", {})), 25):
        failures.append(f"{len(actors_shown)} actors shown of {len(summary.get('actors', {}))}")

    # Nothing from elsewhere, nothing active.
    if got["resources"]:
        failures.append(f"the page loaded {got['resources']}")
    if got["active"]:
        failures.append(f"{got['active']} script, image, frame or link elements on the page")

    for f in failures:
        print(f"FAIL {f}")
    if failures:
        return 1
    n_bars = sum(len(d["bars"]) for d in got["days"])
    print(f"ok   backtest page in Chromium: {len(days)} bar groups (one per day), {n_bars} bars "
          f"to scale, {len(got['numbers'])} numbers equal to the JSON summary's, nothing loaded")
    return 0


HOSTILE_ACTOR = "arn:aws:iam::111122223333:user/<img src=x onerror=alert(1)><script>alert(2)</script>"


def plant(archive, sample):
    """Adds to `archive` one CloudTrail log whose only record (the sample event's `detail`)
    is a change that is remediated, made by an actor whose name is markup: the page must
    show it as text."""
    record = json.load(open(sample))["detail"]
    record["userIdentity"]["arn"] = HOSTILE_ACTOR
    account = record.get("recipientAccountId") or record["userIdentity"].get("accountId")
    day = record["eventTime"][:10].split("-")
    d = os.path.join(archive, "AWSLogs", account, "CloudTrail", record["awsRegion"], *day)
    os.makedirs(d, exist_ok=True)
    name = f"{account}_CloudTrail_{record['awsRegion']}_{''.join(day)}T0000Z_hostile.json"
    with open(os.path.join(d, name), "w") as f:
        json.dump({"Records": [record]}, f)


def self_test(page_path, summary_path):
    """The check must fail on a page that is wrong: each tampering is caught."""
    page = open(page_path).read()
    summary = json.load(open(summary_path))
    if HOSTILE_ACTOR not in summary.get("actors", {}):
        print("FAIL the hostile actor is not in the summary (plant it first)")
        return 1
    first_day = page.index('<g class="day"')
    day_end = page.index("</g>\n", page.index("<text", first_day)) + len("</g>\n")
    number = re.search(r'<data value="(\d+)" data-key="([^"]*)">[\d,]+</data>', page)
    higher = int(number.group(1)) + 1
    tamperings = {
        "a number one higher": page.replace(
            number.group(0), f'<data value="{higher}" data-key="{number.group(2)}">{higher}</data>', 1),
        "a day's bar group removed": page[:first_day] + page[day_end:],
        "a bar twice as high": re.sub(
            r'(<rect class="\w+" [^>]*height=")([0-9.]+)',
            lambda m: m.group(1) + str(float(m.group(2)) * 2), page, count=1),
        "an image loaded": page.replace(
            "</body>", '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></body>'),
        "the actor unescaped": page.replace(html_escape(HOSTILE_ACTOR), HOSTILE_ACTOR, 1),
    }
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for what, text in tamperings.items():
            if text == page:
                print(f"FAIL self-test: could not tamper ({what})")
                failed += 1
                continue
            bad = os.path.join(d, "page.html")
            with open(bad, "w") as f:
                f.write(text)
            said = io.StringIO()
            saved, sys.stdout = sys.stdout, said
            try:
                rc = check(bad, summary_path, None)
            finally:
                sys.stdout = saved
            if rc == 0:
                print(f"FAIL self-test: the check passed a page with {what}")
                failed += 1
            else:
                print(f"     {what}: {said.getvalue().splitlines()[0]}")
    if not failed:
        print(f"ok   the page check fails on each of {len(tamperings)} tamperings ({', '.join(tamperings)})")
    return 1 if failed else 0


def html_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", nargs="?")
    ap.add_argument("summary", nargs="?")
    ap.add_argument("--screenshot")
    ap.add_argument("--self-test", action="store_true",
                    help="check that the check fails on tampered copies of the page")
    ap.add_argument("--plant", nargs=2, metavar=("ARCHIVE", "SAMPLE"),
                    help="add a log with a remediated record by an actor named in markup")
    a = ap.parse_args()
    if a.plant:
        plant(*a.plant)
        return
    if not a.page or not a.summary:
        ap.error("PAGE and SUMMARY are needed")
    rc = check(a.page, a.summary, a.screenshot)
    if rc == 0 and a.self_test:
        rc = self_test(a.page, a.summary)
    sys.exit(rc)


if __name__ == "__main__":
    main()
