"""The user guide: a page per module, linked from its index, illustrated, served in Help."""
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "user-guide"
MODULE_PAGES = ["dashboard", "user", "device", "autop", "firmware", "message", "mac-library", "billing", "portals"]


def test_index_links_every_module_page():
    index = (GUIDE / "index.md").read_text()
    linked = set(re.findall(r"\]\(([a-z-]+)\.md\)", index))
    assert set(MODULE_PAGES) <= linked
    assert {p.stem for p in GUIDE.glob("*.md")} - {"index"} <= linked


def test_every_module_page_is_illustrated_with_images_that_exist():
    for name in MODULE_PAGES:
        text = (GUIDE / f"{name}.md").read_text()
        images = re.findall(r"!\[[^\]]+\]\(img/([a-z0-9-]+)\.png\)", text)
        assert images, f"{name}.md has no screenshot"
        for image in images:
            assert (GUIDE / "img" / f"{image}.png").is_file(), f"{name}.md: img/{image}.png is missing"


@pytest.mark.django_db
def test_help_shows_the_screenshots_and_serves_them(client, installer, resident):
    assert client.get("/help/img/dashboard.png").status_code == 302  # log in first
    client.force_login(installer)
    page = client.get("/help/dashboard/").content.decode()
    assert '<img src="/help/img/dashboard.png" alt="The dashboard with the demo data" loading="lazy"' in page
    image = client.get("/help/img/dashboard.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    assert client.get("/help/img/no-such-picture.png").status_code == 404
    assert client.get("/help/img/..%2Fsecret.png").status_code == 404
