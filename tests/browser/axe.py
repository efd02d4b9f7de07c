"""axe-core, vendored from the npm registry (vendor/axe-core-<version>/README.md), injected into
a Playwright page and run there: the violations it finds, and an assertion that names each
serious or critical one with where it is and how to fix it."""

import hashlib
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

AXE_VERSION = "4.14.1"
AXE_DIR = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}"
AXE_JS = AXE_DIR / "axe.min.js"
# The file's SHA-256 as recorded in AXE_DIR/README.md (and in the package's sri-history.json):
# a swapped or edited file fails tests/unit/test_vendored_axe.py.
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

BLOCKING = ("serious", "critical")

Violation = dict[str, Any]


def vendored_sha256() -> str:
    return hashlib.sha256(AXE_JS.read_bytes()).hexdigest()


def inject(page: Page) -> None:
    """Put axe into the page's document, once. mvq's pages send `script-src 'self'`, which
    refuses the inline <script> that page.add_script_tag(path=...) writes, and rightly so: the
    test must not loosen the policy it runs under (no bypass_csp). So where the tag is refused,
    the same file is evaluated through DevTools, which a page's CSP does not govern."""
    if page.evaluate("() => typeof window.axe === 'object'"):
        return
    try:
        page.add_script_tag(path=str(AXE_JS))
    except PlaywrightError as refused:
        if "Content Security Policy" not in str(refused):
            raise
        page.evaluate(AXE_JS.read_text())
    assert page.evaluate("() => window.axe && window.axe.version") == AXE_VERSION


def run(page: Page) -> list[Violation]:
    """Inject axe and run every rule over the whole page; the violations, as axe reports them
    (id, impact, help, helpUrl, nodes with their target selectors)."""
    inject(page)
    violations: list[Violation] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return violations


def blocking(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations: list[Violation], *, targets: int = 3) -> str:
    """One paragraph per violation: rule, impact, help, its first `targets` selectors and the
    first node's own summary of what to fix."""
    lines = []
    for v in violations:
        nodes = v.get("nodes", [])
        where = [" ".join(map(str, n.get("target", []))) for n in nodes[:targets]]
        more = f" (+{len(nodes) - targets} more)" if len(nodes) > targets else ""
        lines.append(f"- {v['id']} [{v.get('impact')}]: {v.get('help')} ({v.get('helpUrl')})")
        lines.append(f"    targets: {', '.join(where)}{more}")
        if nodes:  # the element itself: a bare `div` selector says little
            html = " ".join(str(nodes[0].get("html", "")).split())
            lines.append(f"    first: {html[:160]}{'…' if len(html) > 160 else ''}")
        summary = (nodes[0].get("failureSummary") or "").replace("\n", " ") if nodes else ""
        if summary:
            lines.append(f"    {summary}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Page, label: str = "") -> list[Violation]:
    """Run axe on `page` and fail naming every serious or critical violation; the minor and
    moderate ones are returned for the caller to report or ignore."""
    found = run(page)
    bad = blocking(found)
    where = label or page.url
    assert not bad, f"axe {AXE_VERSION}: serious or critical violations on {where}:\n" + describe(
        bad
    )
    return found
