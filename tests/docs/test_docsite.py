"""The docs site built by `make docs` (.build/docs), opened in headless Chromium (Debian's
`chromium` package): every plugin, module, role and guide page renders with its title and no
Sphinx error marker, no internal link of any page is broken, nothing is loaded from the
network, and the connection plugin's page is saved as a screenshot for CI.

Run with `make docs-test`; MULTIHOP_DOCS_SITE points at another built site."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("MULTIHOP_DOCS_SITE", ROOT / ".build" / "docs"))
SCREENSHOT = ROOT / ".build" / "docs-artifacts" / "connection-plugin.png"
SCREENSHOT_SIZE = (1280, 1600)
CHROMIUM_TIMEOUT = 90
# What docutils and antsibull-docs put into a page when something did not render.
ERROR_CLASSES = {"system-message", "problematic"}
ERROR_TEXTS = ("could not be parsed", "Unknown interpreted text role", "Unknown directive type")


@dataclass
class Page:
    title: str = ""
    h1: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    hrefs: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)  # what the page loads: scripts, styles, images
    error_classes: set[str] = field(default_factory=set)
    text: str = ""


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.page.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.page.ids.add(a["name"])
        self.page.error_classes |= ERROR_CLASSES & set((a.get("class") or "").split())
        if tag == "a" and a.get("href") is not None:
            self.page.hrefs.append(a["href"])
        if tag == "link" and a.get("href"):
            self.page.hrefs.append(a["href"])
            if {"stylesheet", "icon", "preload"} & set((a.get("rel") or "").lower().split()):
                self.page.resources.append(a["href"])
        if tag in ("script", "img", "iframe", "source", "video", "audio") and a.get("src"):
            self.page.resources.append(a["src"])
        if tag in ("title", "h1"):
            self._in.append(tag)
            self._text = []

    def handle_endtag(self, tag):
        if self._in and tag == self._in[-1]:
            self._in.pop()
            text = " ".join("".join(self._text).split()).rstrip("¶").strip()
            if tag == "title":
                self.page.title = text
            else:
                self.page.h1.append(text)

    def handle_data(self, data):
        if self._in:
            self._text.append(data)
        self.page.text += data


def parse_page(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def broken_links(pages: dict[str, Page], site: Path) -> list[str]:
    """Every href of every page (relative path -> Page) that points into the site must name an
    existing file, and its #fragment an id of that page; returns one line per broken link."""
    problems = []
    for rel, page in sorted(pages.items()):
        for href in page.hrefs:
            parts = urlsplit(href)
            if parts.scheme not in ("", "file") or parts.netloc:
                continue  # an external link: not followed (the site is checked offline)
            if parts.scheme == "file":
                try:
                    path = Path(unquote(parts.path)).resolve().relative_to(site.resolve()).as_posix()
                except ValueError:
                    problems.append(f"{rel}: {href!r} points outside the site")
                    continue
            elif parts.path:
                path = posixpath.normpath(posixpath.join(posixpath.dirname(rel), unquote(parts.path)))
            else:
                path = rel
            if path.startswith("../") or path == "..":
                problems.append(f"{rel}: {href!r} points outside the site")
                continue
            if (site / path).is_dir():
                path = posixpath.join(path, "index.html")
            if not (site / path).is_file():
                problems.append(f"{rel}: {href!r}: no file {path}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and path.endswith(".html"):
                target = pages.get(path) or parse_page((site / path).read_text(encoding="utf-8"))
                if fragment not in target.ids:
                    problems.append(f"{rel}: {href!r}: {path} has no id {fragment!r}")
    return problems


# --- Chromium


def chromium_command() -> list[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed (Debian package chromium; make deps installs it)")
    command = [binary, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return command


def run_chromium(args: list[str], url: str) -> subprocess.CompletedProcess:
    """One headless Chromium run with a private profile; fails the test with Chromium's stderr
    when it does not exit cleanly."""
    with tempfile.TemporaryDirectory(prefix="multihop-chromium-") as profile:
        command = [*chromium_command(), f"--user-data-dir={profile}", *args, url]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
            pytest.fail(f"chromium did not finish within {CHROMIUM_TIMEOUT}s: {command}\n{stderr or ''}")
    if result.returncode != 0:
        pytest.fail(f"chromium failed (exit {result.returncode}): {command}\nstderr:\n{result.stderr}")
    return result


def site_pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no docs site at {SITE}: run make docs first")
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not p.relative_to(SITE).parts[0].startswith(("_", "."))
    )


@pytest.fixture(scope="session")
def rendered() -> dict[str, Page]:
    """Every HTML page of the site as Chromium's DOM after loading it (scripts run)."""
    pages = site_pages()

    def dump(rel: str) -> Page:
        result = run_chromium(["--dump-dom"], (SITE / rel).as_uri())
        if "<html" not in result.stdout:
            pytest.fail(f"chromium printed no DOM for {rel}\nstderr:\n{result.stderr}")
        return parse_page(result.stdout)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(pages, pool.map(dump, pages), strict=True))


# --- What must be there, from the collection's own files


def _names(directory: str, suffix: str = ".py") -> list[str]:
    return sorted(p.stem for p in (ROOT / directory).glob(f"*{suffix}") if not p.stem.startswith("_"))


def _guide_title(name: str) -> str:
    lines = (ROOT / "docs/docsite/rst" / f"{name}.rst").read_text(encoding="utf-8").splitlines()
    for text, underline in zip(lines, lines[1:], strict=False):  # pairs of consecutive lines
        if text.strip() and re.fullmatch(r"(=)\1+", underline) and len(underline) >= len(text):
            return text.replace("``", "")
    raise AssertionError(f"docs/docsite/rst/{name}.rst has no title")


def _guides() -> list[str]:
    index = yaml.safe_load((ROOT / "docs/docsite/extra-docs.yml").read_text(encoding="utf-8"))
    return [
        entry if isinstance(entry, str) else entry["ref"]
        for section in index["sections"]
        for entry in section["toctree"]
    ]


EXPECTED = {  # page -> what its <title> and <h1> start with
    **{f"{n}_connection.html": f"jumphosts.multihop.{n} connection" for n in _names("plugins/connection")},
    **{f"{n}_module.html": f"jumphosts.multihop.{n} module" for n in _names("plugins/modules")},
    **{f"{n}_filter.html": f"jumphosts.multihop.{n} filter" for n in _names("plugins/filter")},
    **{f"{p.name}_role.html": f"jumphosts.multihop.{p.name} role" for p in sorted((ROOT / "roles").iterdir())},
    **{f"docsite/{g}.html": _guide_title(g) for g in _guides()},
}


def test_expected_pages_are_known():
    """The list below covers both connection plugins (ssh, and paramiko_hop, internal to the paramiko backend),
    both modules, the filters, both roles and the seven guides; a plugin or guide that disappears from the
    sources shows up here."""
    kinds = [page.rsplit("_", 1)[-1] if "/" not in page else "guide" for page in EXPECTED]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "connection.html": 2,
        "module.html": 2,
        "filter.html": 5,
        "role.html": 2,
        "guide": 7,
    }


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_page_renders(rendered, page):
    assert page in rendered, f"{page} is not in the built site {SITE}"
    dom = rendered[page]
    assert dom.title.startswith(EXPECTED[page]), f"{page}: title {dom.title!r}"
    assert dom.h1 and dom.h1[0].startswith(EXPECTED[page]), f"{page}: h1 {dom.h1!r}"
    assert not dom.error_classes, f"{page}: Sphinx error markers {sorted(dom.error_classes)}"
    found = [t for t in ERROR_TEXTS if t in dom.text]
    assert not found, f"{page}: {found}"


def test_no_broken_internal_link(rendered):
    problems = broken_links(rendered, SITE)
    assert not problems, "broken internal links:\n" + "\n".join(problems)


def test_nothing_loaded_from_the_network(rendered):
    remote = [
        f"{page}: {url}"
        for page, dom in sorted(rendered.items())
        for url in dom.resources
        if urlsplit(url).scheme in ("http", "https") or url.startswith("//")
    ]
    assert not remote, "pages load remote resources:\n" + "\n".join(remote)


def test_link_checker_reports_broken_links(tmp_path):
    """broken_links itself: a missing file, a missing id and an escape from the site are found,
    good links are not."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text('<h2 id="here">x</h2>')
    (tmp_path / "sub" / "b.html").write_text('<p id="there">y</p>')
    pages = {
        "a.html": parse_page(
            '<h2 id="here"></h2><a href="#here"></a><a href="sub/b.html#there"></a>'
            '<a href="https://example.org/x.html"></a><a href="#"></a>'
            '<a href="missing.html"></a><a href="sub/b.html#nowhere"></a>'
        ),
        "sub/b.html": parse_page('<p id="there"></p><a href="../a.html#here"></a><a href="../../up.html"></a>'),
    }
    assert broken_links(pages, tmp_path) == [
        "a.html: 'missing.html': no file missing.html",
        "a.html: 'sub/b.html#nowhere': sub/b.html has no id 'nowhere'",
        "sub/b.html: '../../up.html' points outside the site",
    ]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_connection_plugin_screenshot(capsys):
    page = SITE / "ssh_connection.html"
    if not page.is_file():
        pytest.fail(f"{page} does not exist: run make docs first")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    width, height = SCREENSHOT_SIZE
    run_chromium(
        [f"--screenshot={SCREENSHOT}", f"--window-size={width},{height}", "--hide-scrollbars"],
        page.as_uri(),
    )
    assert SCREENSHOT.is_file(), f"chromium wrote no screenshot to {SCREENSHOT}"
    assert _png_size(SCREENSHOT) == SCREENSHOT_SIZE
    # A blank page compresses to a few kilobytes; the rendered page with text and tables does not.
    assert SCREENSHOT.stat().st_size > 50_000, f"{SCREENSHOT} is suspiciously small"
    with capsys.disabled():
        print(f"\nscreenshot of the connection plugin page: {SCREENSHOT}")
