"""The application's route table, read from the application itself: the role matrix and the
audit coverage enumerate it, so a new route without an expectation fails them.

`application()` is the one place that names the entry point."""

import re
from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A path parameter, "{item_id}" or "{path:path}".
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def application() -> FastAPI:
    from asgi.app import app

    return app


def _walk(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, APIRoute):
            for method in route.methods - {"HEAD"}:
                yield method, prefix + route.path
        elif isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)  # a mounted app; StaticFiles has none
            if inner is not None:
                yield from _walk(inner, prefix + route.path)
        elif hasattr(route, "effective_route_contexts"):
            # FastAPI >= 0.16x keeps an included router as one lazy route of its own.
            for context in route.effective_route_contexts():
                if context.methods is not None:
                    for method in set(context.methods) - {"HEAD"}:
                        yield method, prefix + context.path


def route_table(app: FastAPI | None = None) -> set[tuple[str, str]]:
    """Every (method, path template) the application answers, HEAD aside; FastAPI's own
    documentation routes are not APIRoutes and are not listed."""
    return set(_walk((app or application()).routes, ""))


def get_routes() -> list[str]:
    """Every GET path of the application, through mounts and included routers."""
    return sorted({path for method, path in route_table() if method == "GET"})


def fill(path: str, values: dict[str, list[str]]) -> list[str]:
    names = PARAM.findall(path)
    missing = [n for n in names if not values.get(n)]
    assert not missing, f"the crawl cannot fill {missing} of GET {path}: add them to `values`"
    filled = [path]
    for name in names:
        filled = [
            PARAM.sub(lambda m, v=v, n=name: v if m[1] == n else m[0], p)
            for p in filled
            for v in values[name]
        ]
    return filled
