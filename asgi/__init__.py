"""The application uvicorn serves (`uvicorn asgi.app:app`): the API and the pages side by side.

A package of its own, above both `api` and `web` and the shared `edge` below them, so that
neither half imports the other nor the whole (pyproject.toml's import contracts)."""
