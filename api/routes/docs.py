"""The API's documentation (/docs): Swagger UI from the site's own vendored copy
(web/static/vendor/swagger-ui-*), started by a script file of the site's, so the page is served
under the same Content-Security-Policy as every other (asgi/app.py) and loads nothing from
another origin. FastAPI's own page loads it from a CDN and starts it by an inline script."""

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
SWAGGER_UI = "/static/vendor/swagger-ui-5.36.0"


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mvq API</title>
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape("/openapi.json")}"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
""")
