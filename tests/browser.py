"""Open a `dvc plots show` page in headless Chromium and report what it drew and what it requested.

Chromium's command line is the whole interface: the checker copies the page next to the original (so
`static/*.png` still resolves), injects two scripts, runs `chromium --headless --dump-dom` and reads the
facts the scripts wrote into the DOM as JSON. No Python package beyond the standard library is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_SCHEMES = {"file", "data", "blob", "about"}
TIMEOUT_SECONDS = 60
RESULT_ID = "latentlab-plots-check"

# First thing in <head>: wrap the global vegaEmbed as soon as a library defines it, so the promise of
# every `vegaEmbed('#id', spec)` call in DVC's plot divs is kept; and record every error on the page.
COLLECT = """<script>
(() => {
  const check = window.__plotsCheck = {embeds: [], errors: []};
  addEventListener("error", event => check.errors.push(
    event.message || `could not load ${event.target.src || event.target.href}`), true);
  let wrapped;
  Object.defineProperty(window, "vegaEmbed", {
    configurable: true,
    get: () => wrapped,
    set: original => {
      wrapped = (target, ...rest) => {
        let result;
        try { result = Promise.resolve(original(target, ...rest)); } catch (error) { result = Promise.reject(error); }
        check.embeds.push({target, result});
        return result;
      };
    },
  });
})();
</script>"""

# Last thing in <body>: after the load event (images done) and every embed settled, write the facts
# (or why they could not be gathered) into the DOM as JSON.
REPORT = r"""<script>
(() => {
  // A group mark's items hold marks; any other mark's items are drawn. Marks with role "mark" draw the
  // data; axes, legends and titles have other roles and are drawn even when there is no data.
  const dataMarks = mark => mark.marktype === "group"
    ? (mark.items || []).flatMap(group => group.items || []).reduce((sum, child) => sum + dataMarks(child), 0)
    : mark.role === "mark" ? (mark.items || []).length : 0;
  const gather = async check => {
    if (document.readyState !== "complete") await new Promise(done => addEventListener("load", done));
    const embeds = await Promise.all(check.embeds.map(({target, result}) => result.then(
      embedded => ({target, view: Boolean(embedded && embedded.view),
                    marks: embedded && embedded.view ? dataMarks(embedded.view.scenegraph().root) : 0}),
      error => ({target, view: false, marks: 0, error: String(error)}))));
    const images = [...document.images].map(img => ({src: img.src, loaded: img.complete && img.naturalWidth > 0}));
    const urls = new Set(performance.getEntriesByType("resource").map(entry => entry.name));
    document.querySelectorAll("[src], link[href]").forEach(node => urls.add(node.src || node.href));
    return {embeds, images, urls: [...urls].sort(), errors: check.errors};
  };
  const write = facts => {
    const out = document.createElement("script");
    out.type = "application/json";
    out.id = "@RESULT_ID@";
    out.textContent = JSON.stringify(facts).replace(/</g, "\\u003c");  // no "</script" can end it early
    document.body.append(out);
  };
  gather(window.__plotsCheck).then(write, error => write({failure: String(error)}));
})();
</script>""".replace("@RESULT_ID@", RESULT_ID)
# DVC's plot divs: <div id = "ID"><script> var spec = {...}; vegaEmbed('#ID', spec); </script></div>.
# vega-embed empties the div when it draws, so the containers are read from the page as DVC wrote it.
EMBED_CALL = re.compile(r"""vegaEmbed\(\s*['"]#([^'"]+)['"]""")


@dataclass(frozen=True)
class VegaPlot:
    """One plot container DVC wrote: its id, the Vega views rendered in it and their drawn data marks."""

    id: str
    views: int
    marks: int
    errors: list[str]


@dataclass(frozen=True)
class Image:
    """One <img> on the page, by resolved URL, and whether it loaded (complete, nonzero width)."""

    src: str
    loaded: bool


@dataclass(frozen=True)
class PageCheck:
    """What the page drew and every URL it requested."""

    plots: list[VegaPlot]
    images: list[Image]
    urls: list[str]
    errors: list[str]

    @property
    def remote_urls(self) -> list[str]:
        """The requested URLs that leave the machine (any scheme but file:, data:, blob:, about:)."""
        return [url for url in self.urls if urlsplit(url).scheme not in LOCAL_SCHEMES]


def chromium_or_reason() -> tuple[str | None, str]:
    """The Chromium binary, or None and why not (a reason for pytest.skip)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path, f"found {path}"
    return None, ("chromium not found: .ci/run installs Debian's chromium (apt-get install -y chromium); "
                  "without it this test cannot open the page")


def instrument(page: str) -> str:
    """The page with the collecting script first in <head> and the reporting script last in <body>."""
    head = re.search(r"<head(\s[^>]*)?>", page, re.IGNORECASE)
    body_end = page.lower().rfind("</body>")
    if head is None or body_end < 0:
        raise ValueError("the page has no <head> or no </body>: not a page written by dvc plots show")
    page = page[:body_end] + REPORT + page[body_end:]
    return page[:head.end()] + COLLECT + page[head.end():]


def run_chromium(chromium: str, url: str) -> subprocess.CompletedProcess:
    """Chromium's dump of the DOM at `url` after the page settles (stdout), killed after TIMEOUT_SECONDS."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                # Chromium's own traffic (updates, sync, Google hosts at start) is not the page's.
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                # No name resolves, so a remote request fails at once instead of waiting for a timeout;
                # the page still records it, and the check reports it.
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", url]
        # A session of its own, so a timeout can end Chromium's helper processes with it.
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise RuntimeError(f"chromium did not finish in {TIMEOUT_SECONDS} s:\n{stderr[-2000:]}") from None
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def check_plots_page(html: Path) -> PageCheck:
    """Open `html` (a page from `dvc plots show`) in headless Chromium and report what it drew and requested."""
    chromium, reason = chromium_or_reason()
    if chromium is None:
        raise FileNotFoundError(reason)
    html = Path(html).resolve()
    page = html.read_text(encoding="utf-8")
    instrumented = instrument(page)
    # Next to the original, so the page's relative paths (static/*.png) resolve as they do for it.
    fd, name = tempfile.mkstemp(prefix=".check-", suffix=".html", dir=html.parent)
    copy = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(instrumented)
        done = run_chromium(chromium, copy.as_uri())
    finally:
        copy.unlink()
    found = re.search(rf'<script type="application/json" id="{RESULT_ID}">(.*?)</script>', done.stdout, re.DOTALL)
    if found is None:
        raise RuntimeError(f"chromium (exit {done.returncode}) left no check results in the page; "
                           f"its stderr ends:\n{done.stderr[-2000:]}")
    facts = json.loads(found.group(1))
    if "failure" in facts:
        raise RuntimeError(f"the check script failed in the page: {facts['failure']}")
    return page_check(facts, page)


def page_check(facts: dict, page: str) -> PageCheck:
    """The facts the page reported, with the embeds grouped by the plot containers written in `page`."""
    plots = []
    for plot_id in EMBED_CALL.findall(page):
        embeds = [embed for embed in facts["embeds"] if embed["target"] == f"#{plot_id}"]
        plots.append(VegaPlot(id=plot_id, views=sum(embed["view"] for embed in embeds),
                              marks=sum(embed["marks"] for embed in embeds),
                              errors=[embed["error"] for embed in embeds if "error" in embed]))
    images = [Image(**image) for image in facts["images"]]
    return PageCheck(plots=plots, images=images, urls=facts["urls"], errors=facts["errors"])
