"""Fails on a broken internal link in the built book or in README.md, listing every one.

In the book (the HTML mdBook wrote): every relative href and src must name a file of the
book, and a #fragment must be an id in that page (or in the same page, for a bare #id).
In README.md: every relative link or image must name a file of the repository, and a
#fragment that points into a Markdown file must be one of its headings as GitHub writes
them (lowercase, punctuation dropped, spaces as hyphens, repeats numbered).
External links (a scheme such as https: or mailto:, or //host) are not fetched: nothing
here uses the network. Standard library only.

Usage: python3 scripts/check_links.py BOOK_DIR README.md
"""

import html.parser
import os
import re
import sys
import urllib.parse


def external(url):
    """A link that leaves the book or the repository: any scheme, or a host."""
    return bool(urllib.parse.urlsplit(url).scheme) or url.startswith("//")


class Page(html.parser.HTMLParser):
    """The links and the ids of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.ids = set()
        self.base = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if tag == "base" and name == "href":
                # Not a link: what the page's relative links are relative to.
                self.base = value
                continue
            if name in ("id", "name") and (name == "id" or tag == "a"):
                self.ids.add(value)
            if name in ("href", "src"):
                self.links.append((tag, value))


def parse(path, cache):
    if path not in cache:
        page = Page()
        with open(path, encoding="utf-8") as f:
            page.feed(f.read())
        cache[path] = page
    return cache[path]


def check_book(book, problems):
    """Every relative link of every HTML page of the book resolves, fragment included."""
    book = os.path.abspath(book)
    cache = {}
    pages = []
    for dirpath, _, files in os.walk(book):
        pages += [os.path.join(dirpath, f) for f in files if f.endswith(".html")]
    if not pages:
        problems.append(f"{book}: no HTML pages (was the book built?)")
        return 0
    checked = 0
    for path in sorted(pages):
        page = parse(path, cache)
        shown = os.path.relpath(path, book)
        # mdBook's 404 page says `<base href="/">` (its `site-url`): its links are relative to
        # the book's root, wherever the page is.
        if page.base is None:
            base_dir = os.path.dirname(path)
        elif page.base == "/":
            base_dir = book
        else:
            problems.append(f"book {shown}: <base href={page.base!r}>: only the book's root is understood here")
            continue
        for tag, url in page.links:
            if external(url) or url.startswith("data:") or url.startswith("javascript:"):
                continue
            checked += 1
            parts = urllib.parse.urlsplit(url)
            target_path = urllib.parse.unquote(parts.path)
            if target_path == "":
                target = path
            elif target_path.startswith("/"):
                problems.append(f"book {shown}: <{tag}> {url}: an absolute path (the book may be served under any prefix)")
                continue
            else:
                target = os.path.normpath(os.path.join(base_dir, target_path))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
            if not target.startswith(book + os.sep) and target != book:
                problems.append(f"book {shown}: <{tag}> {url}: outside the book")
                continue
            if not os.path.isfile(target):
                problems.append(f"book {shown}: <{tag}> {url}: no such file in the book")
                continue
            fragment = urllib.parse.unquote(parts.fragment)
            if fragment and target.endswith(".html") and fragment not in parse(target, cache).ids:
                problems.append(f"book {shown}: <{tag}> {url}: no id {fragment!r} in {os.path.relpath(target, book)}")
    return checked


def check_css(book, problems):
    """The relative url(...) of the theme's stylesheets (fonts, images) name files of the book."""
    book = os.path.abspath(book)
    checked = 0
    for dirpath, _, files in os.walk(book):
        for name in files:
            if not name.endswith(".css"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                css = f.read()
            for m in re.finditer(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css):
                url = m.group(1)
                if external(url) or url.startswith("data:") or url.startswith("#"):
                    continue
                checked += 1
                target = os.path.normpath(os.path.join(dirpath, urllib.parse.unquote(urllib.parse.urlsplit(url).path)))
                if not os.path.isfile(target):
                    problems.append(f"book {os.path.relpath(path, book)}: url({url}): no such file in the book")
    return checked


def outside_fences(markdown):
    """The lines of a Markdown text outside fenced code blocks, with their line numbers."""
    fence = None
    for no, line in enumerate(markdown.splitlines(), 1):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if m:
            if fence is None:
                fence = m.group(1)[0]
            elif m.group(1)[0] == fence:
                fence = None
            continue
        if fence is None:
            yield no, line


def github_slugs(markdown):
    """The anchors GitHub gives a Markdown file's headings (outside code blocks)."""
    slugs, seen = set(), {}
    for _, line in outside_fences(markdown):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # a link's text
        text = re.sub(r"<[^>]+>", "", text)  # inline HTML
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        slugs.add(slug if n == 0 else f"{slug}-{n}")
    return slugs


def markdown_links(markdown):
    """The destinations of the inline links and images of a Markdown text, outside code
    (fenced blocks and `spans`), with their line numbers."""
    out = []
    for no, line in outside_fences(markdown):
        line = re.sub(r"`[^`]*`", "", line)
        for m in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line):
            out.append((no, m.group(1)))
        for m in re.finditer(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)", line):
            out.append((no, m.group(1)))
    return out


def check_readme(readme, problems):
    """Every relative link of README.md names a file of the repository (and a heading of it)."""
    readme = os.path.abspath(readme)
    root = os.path.dirname(readme)
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    checked = 0
    for no, url in markdown_links(text):
        if external(url):
            continue
        checked += 1
        parts = urllib.parse.urlsplit(url)
        target_path = urllib.parse.unquote(parts.path)
        target = readme if target_path == "" else os.path.normpath(os.path.join(root, target_path))
        if not (target == root or target.startswith(root + os.sep)):
            problems.append(f"README.md:{no}: {url}: outside the repository")
            continue
        if not os.path.exists(target):
            problems.append(f"README.md:{no}: {url}: no such file in the repository")
            continue
        fragment = urllib.parse.unquote(parts.fragment)
        if fragment and target.endswith(".md"):
            with open(target, encoding="utf-8") as f:
                if fragment not in github_slugs(f.read()):
                    problems.append(f"README.md:{no}: {url}: no heading #{fragment} in {os.path.relpath(target, root)}")
    return checked


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    problems = []
    in_book = check_book(sys.argv[1], problems) + check_css(sys.argv[1], problems)
    in_readme = check_readme(sys.argv[2], problems)
    if problems:
        print(f"FAIL {len(problems)} broken link(s):")
        for p in problems:
            print(f"  {p}")
        sys.exit(1)
    print(f"ok   links: {in_book} relative links in the book and {in_readme} in README.md, none broken")


if __name__ == "__main__":
    main()
