"""Write plots/templates/offline.html: DVC's plots page with Vega, Vega-Lite and Vega-Embed inlined.

DVC fills an HTML template with str.replace, not str.format (dvc_render/html.py: HTML.embed), so the
braces in the inlined JavaScript are safe. The page has {plot_divs} and {refresh_tag} but no {scripts}:
{scripts} is where DVC would put its <script src="https://cdn.jsdelivr.net/..."> tags.

    python plots/vendor/build_template.py
"""

from __future__ import annotations

import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parent
TEMPLATE = VENDOR.parent / "templates" / "offline.html"
# In load order: the UMD builds of vega-lite and vega-embed read the globals `vega` and `vegaLite`.
LIBRARIES = [("vega", "5.20.2"), ("vega-lite", "5.2.0"), ("vega-embed", "6.18.2")]
LICENSE = "BSD-3-Clause"
# Inside the inlined code these would end the <script> element early or be filled in by DVC.
FORBIDDEN = ["</script", "<!--", "{plot_divs}", "{scripts}", "{refresh_tag}"]
SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S+\s*$")

# DVC's default page (dvc_render.html.PAGE_HTML) with a charset: the Vega builds hold non-ASCII text,
# and DVC writes index.html as UTF-8.
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
@LIBRARIES@
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def inline_library(name: str, version: str) -> str:
    """One library as a license comment and an inline <script> holding its minified build."""
    folder = VENDOR / f"{name}-{version}"
    code = (folder / f"{name}.min.js").read_text(encoding="utf-8")
    # The .map files are not vendored; without this line the browser's devtools would ask for them.
    code = SOURCE_MAP.sub("", code)
    for text in FORBIDDEN:
        if text in code.lower():
            raise ValueError(f"{folder.name}/{name}.min.js contains {text!r}: it cannot be inlined as is")
    license_text = (folder / "LICENSE").read_text(encoding="utf-8").strip()
    return (f"<!-- {name} {version}, {LICENSE} (plots/vendor/{folder.name}/LICENSE):\n{license_text}\n-->\n"
            f"<script>\n{code}\n</script>")


def build_page() -> str:
    """The offline page: DVC's default page with the three libraries inlined in load order."""
    return PAGE.replace("@LIBRARIES@", "\n".join(inline_library(*library) for library in LIBRARIES))


def main() -> None:
    TEMPLATE.write_text(build_page(), encoding="utf-8")
    print(f"wrote {TEMPLATE} ({TEMPLATE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
