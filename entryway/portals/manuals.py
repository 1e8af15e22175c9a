"""The platform's manuals: the Markdown files under docs/, read and downloaded in the portal.

Only files found in the manuals folder are served, by slug; raw HTML in them is shown as text
and links may not use javascript: or data: addresses (markdown-it's link validation). The user
guide's screenshots (``docs/user-guide/img/<name>.png``, taken by the browser tests) are served
by name at ``/help/img/<name>.png``.
"""
from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import FileResponse, Http404
from django.urls import reverse
from markdown_it import MarkdownIt

from entryway.core.access import role_required

USER_GUIDE = "user-guide"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_IMG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MD_IMG = re.compile(r"^(?:\./)?img/([a-z0-9][a-z0-9_-]{0,63})\.png$")
_MD_LINK = re.compile(r"^(?:\./|\.\./)?(?:user-guide/)?([A-Za-z0-9_-]+)\.md(#[A-Za-z0-9_-]*)?$")

# Which roles see the operator and developer manuals (docs/*.md); the user guide is for every portal role.
OPERATOR_MANUALS = {
    "device-protocol": ("admin", "distributor", "installer"),
    "sip": ("admin",),
    "operations": ("admin",),
    "architecture": ("admin",),
}
STAFF_ROLES = ("admin", "distributor", "installer")


@dataclass(frozen=True)
class Manual:
    slug: str
    title: str
    path: pathlib.Path
    roles: tuple[str, ...]
    is_index: bool = False

    @property
    def filename(self) -> str:
        return f"entryway-{self.slug}.md"


def manuals_dir() -> pathlib.Path:
    return pathlib.Path(settings.MANUALS_DIR)


def _title_of(path: pathlib.Path) -> str:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# "):
                return line[2:].strip()
    return path.stem.replace("-", " ").capitalize()


def all_manuals() -> list[Manual]:
    root = manuals_dir()
    found: list[Manual] = []
    guide = root / USER_GUIDE
    if guide.is_dir():
        for path in sorted(guide.glob("*.md")):
            slug = path.stem.lower()
            if _SLUG.match(slug):
                found.append(Manual(slug=slug, title=_title_of(path), path=path, roles=STAFF_ROLES,
                                    is_index=slug == "index"))
    for slug, roles in OPERATOR_MANUALS.items():
        path = root / f"{slug}.md"
        if path.is_file() and not any(m.slug == slug for m in found):
            found.append(Manual(slug=slug, title=_title_of(path), path=path, roles=roles))
    found.sort(key=lambda m: (not m.is_index, m.path.parent.name != USER_GUIDE, m.title.lower()))
    return found


def manuals_for(user) -> list[Manual]:
    role = getattr(user, "role", "")
    return [m for m in all_manuals() if role in m.roles]


def manual_for(user, slug: str) -> Manual | None:
    if not _SLUG.match(slug or ""):
        return None
    return next((m for m in manuals_for(user) if m.slug == slug), None)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    def link_open(self, tokens, idx, options, env):
        token = tokens[idx]
        href = token.attrGet("href") or ""
        match = _MD_LINK.match(href)
        if match and match.group(1).lower() in env.get("slugs", ()):
            token.attrSet("href", reverse("portals:help_manual", args=[match.group(1).lower()]) + (match.group(2) or ""))
        elif href.startswith(("http://", "https://")):
            token.attrSet("rel", "noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    default_image = md.renderer.rules["image"]

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        match = _MD_IMG.match(token.attrGet("src") or "")
        if match:
            token.attrSet("src", reverse("portals:help_image", args=[match.group(1)]))
            token.attrSet("loading", "lazy")
        return default_image(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("image", image)
    return md


@lru_cache(maxsize=64)
def _render_cached(path: str, mtime: float, slugs: tuple[str, ...]) -> str:
    text = pathlib.Path(path).read_text(encoding="utf-8")
    return _renderer().render(text, {"slugs": slugs})


def render(manual: Manual, user) -> str:
    """The manual as HTML. Safe to mark safe: markdown-it escapes any HTML in the source."""
    slugs = tuple(m.slug for m in manuals_for(user))
    return _render_cached(str(manual.path), manual.path.stat().st_mtime, slugs)


def raw(manual: Manual) -> bytes:
    return manual.path.read_bytes()


def image_path(name: str) -> pathlib.Path | None:
    """A screenshot of the user guide by name, or None."""
    if not _IMG_NAME.match(name or ""):
        return None
    path = manuals_dir() / USER_GUIDE / "img" / f"{name}.png"
    return path if path.is_file() else None


@role_required(*STAFF_ROLES)
def image_view(request, name: str):
    path = image_path(name)
    if path is None:
        raise Http404("No such image.")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
