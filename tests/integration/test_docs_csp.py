"""The API's documentation (/docs) is served under the site's one Content-Security-Policy:
Swagger UI from the site's own vendored copy, no CDN, no inline script."""

import re

import httpx

from testkit import harness


def test_docs_load_only_the_sites_own_scripts_under_the_same_csp(stack: harness.Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        docs = client.get("/docs")
        home = client.get("/login")
        assert docs.status_code == 200, docs.text
        csp = docs.headers.get("content-security-policy")
        assert csp and csp == home.headers["content-security-policy"]
        assert "script-src 'self' 'wasm-unsafe-eval';" in csp
        assert "cdn" not in docs.text.lower()
        # Every script is a file of the site's (no inline code), and each of them is served.
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", docs.text, re.S)
        assert scripts
        for attributes, body in scripts:
            assert not body.strip(), "an inline script would be refused by the CSP"
            src = re.search(r'src="([^"]+)"', attributes)
            assert src and src[1].startswith("/static/"), attributes
            assert client.get(src[1]).status_code == 200, src[1]
        for href in re.findall(r'<link[^>]+href="([^"]+)"', docs.text):
            assert href.startswith("/static/") and client.get(href).status_code == 200, href
        assert client.get("/openapi.json").json()["info"]["title"] == "mvq"
