"""How the review report splits long lists over pages, and what each page is called.

A list of more than PAGE_ROWS items (a table's rows, the uncovered sentences, a chart's
lanes) is split into pages in its order: `<stem>.html`, then `<stem>.page-2.html`, ...
A table's page also holds at most PAGE_LINKS of the links its rows list (their evidence and
the rows that refer to them), so that a table whose rows list many, such as the actors, is
split into shorter pages rather than pages of several megabytes.
A "." cannot occur in a resource name or a source id (read.SAFE_NAME), so the pages of
one table can never be named like another table or source. Each page links to the first,
previous, next and last pages and to those near itself: a bounded number of links, so a
table of n pages costs O(n) links in all, not O(n * n).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeVar

# Rows per page. On the synthetic corpora a row of the widest table (events: its evidence and
# referrers listed) is about 1.4 KB, so a page stays under about 1.5 MB, which a browser opens,
# sorts and filters at once; the 1k corpus's 14,066-row events table was one 20 MB page.
PAGE_ROWS = 1000
# Links listed per table page (an evidence passage, a referring row, a count of them: 250 to 400
# bytes each): the 10k corpus's actors table listed about 13 a row, and its pages of 1,000 rows
# were 4 MB; at 4,000 they are at most about 1.6 MB.
PAGE_LINKS = 4000
NEAR = 2  # pages linked on each side of the current one

Item = TypeVar("Item")


def page_file(stem: str, page: int) -> str:
    """The file of page `page` (counted from 1) of the pages named `stem`."""
    return f"{stem}.html" if page == 1 else f"{stem}.page-{page}.html"


def split(items: Sequence[Item], size: int = PAGE_ROWS) -> list[Sequence[Item]]:
    """`items` in pages of at most `size`, in order; one empty page when there are none."""
    return [items[start : start + size] for start in range(0, len(items), size)] or [items[:0]]


def page_bounds(
    links: Sequence[int], most_rows: int = PAGE_ROWS, most_links: int = PAGE_LINKS
) -> list[range]:
    """The rows of each page of a table whose rows list `links[i]` links each, in order: at most
    `most_rows` rows and `most_links` links a page (a row listing more is a page of its own); one
    empty page when there are no rows."""
    bounds: list[range] = []
    start = listed = 0
    for index, count in enumerate(links):
        if index > start and (index - start == most_rows or listed + count > most_links):
            bounds.append(range(start, index))
            start, listed = index, 0
        listed += count
    return [*bounds, range(start, len(links))]


class PageLink(NamedTuple):
    """One entry of a pager: a page's number and file, or a gap ("…") when `file` is empty."""

    label: str
    file: str
    current: bool = False


def pager(stem: str, current: int, count: int, first: str = "") -> list[PageLink]:
    """The links of page `current` of `count` to the first, previous, nearby, next and last
    pages; empty when there is one page. `first` is the address of page 1 when it is not
    `<stem>.html` (a chart whose first page is part of another page)."""
    if count <= 1:
        return []

    def address(page: int) -> str:
        return first if page == 1 and first else page_file(stem, page)

    shown = sorted({1, count} | set(range(max(1, current - NEAR), min(count, current + NEAR) + 1)))
    links: list[PageLink] = []
    if current > 1:
        links.append(PageLink("previous", address(current - 1)))
    for before, page in zip([0, *shown], shown, strict=False):
        if page - before > 1:
            links.append(PageLink("…", ""))
        links.append(PageLink(str(page), address(page), page == current))
    if current < count:
        links.append(PageLink("next", address(current + 1)))
    return links
