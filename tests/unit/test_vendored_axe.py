"""The vendored axe-core is the file the README says it is: a swapped or edited copy fails."""

import re

from tests.browser import axe


def test_the_vendored_axe_matches_its_recorded_sha256() -> None:
    assert axe.vendored_sha256() == axe.AXE_SHA256


def test_the_readme_records_the_same_version_and_digest() -> None:
    readme = (axe.AXE_DIR / "README.md").read_text()
    assert f"axe-core {axe.AXE_VERSION}" in readme
    assert f"axe-core-{axe.AXE_VERSION}.tgz" in readme
    assert axe.AXE_SHA256 in readme
    assert re.search(r"sha512-[A-Za-z0-9+/]+=*", readme)
    assert (axe.AXE_DIR / "LICENSE").read_text().startswith("Mozilla Public License")
