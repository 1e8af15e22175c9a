"""The guide's paging: Lines per page (10, 20, 50, 100), page numbers, Go to, "N In All"."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import EmptyPage, Paginator

PER_PAGE_CHOICES = (10, 20, 50, 100)
DEFAULT_PER_PAGE = 10


@dataclass
class PageInfo:
    page: object
    paginator: Paginator
    per_page: int
    per_page_choices: tuple[int, ...]
    query: dict

    @property
    def object_list(self):
        return self.page.object_list

    @property
    def count(self) -> int:
        return self.paginator.count

    def url_for(self, number: int | None = None, per_page: int | None = None) -> str:
        params = dict(self.query)
        params["page"] = number if number is not None else self.page.number
        params["per_page"] = per_page if per_page is not None else self.per_page
        return "?" + urlencode(params)

    def page_links(self):
        """Page numbers to show: first, last and a window around the current one (None = gap)."""
        current, last = self.page.number, self.paginator.num_pages
        wanted = {1, last, *range(max(1, current - 2), min(last, current + 2) + 1)}
        out, previous = [], 0
        for n in sorted(wanted):
            if n - previous > 1:
                out.append(None)
            out.append(n)
            previous = n
        return out

    def hidden_query_items(self):
        """The current filters, for the Go to / Lines per page forms."""
        return [(k, v) for k, v in self.query.items() if k not in {"page", "per_page"}]


def _int(raw, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def paginate(request, queryset, *, default_per_page: int = DEFAULT_PER_PAGE, count: int | None = None) -> PageInfo:
    per_page = _int(request.GET.get("per_page"), default_per_page)
    if per_page not in PER_PAGE_CHOICES:
        per_page = default_per_page
    paginator = Paginator(queryset, per_page)
    if count is not None:
        paginator.count = count  # a caller that already knows the count saves a query
    number = _int(request.GET.get("page"), 1)
    try:
        page = paginator.page(max(1, number))
    except EmptyPage:
        page = paginator.page(paginator.num_pages)
    query = {k: v for k, v in request.GET.items() if k not in {"page", "per_page"}}
    return PageInfo(page=page, paginator=paginator, per_page=per_page, per_page_choices=PER_PAGE_CHOICES, query=query)
