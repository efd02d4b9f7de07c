"""Request ids, JSON access logs, HTTP latency histograms and the /metrics route."""

import hmac
import ipaddress
import logging
import re
import time
import uuid

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from mvq import logs
from mvq.errors import Forbidden
from mvq.metrics import SystemCollector
from mvq.settings import get_settings

log = logging.getLogger("mvq.http")
REGISTRY = CollectorRegistry()
REGISTRY.register(SystemCollector())
HTTP_SECONDS = Histogram(
    "mvq_http_request_duration_seconds",
    "HTTP request duration, by route template",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        offered = request.headers.get("x-request-id", "")
        rid = offered if _CLIENT_ID.match(offered) else uuid.uuid4().hex
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            seconds = time.perf_counter() - started
            route = getattr(request.scope.get("route"), "path", "unmatched")
            HTTP_SECONDS.labels(request.method, route, str(response.status_code)).observe(seconds)
            # The route template, never the URL: paths and queries can carry tokens or ids.
            log.info(
                "request",
                extra={"method": request.method, "route": route,
                       "status": response.status_code, "ms": round(seconds * 1000, 1)},
            )  # fmt: skip
        finally:
            logs.request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        return response


router = APIRouter(include_in_schema=False)


def _may_scrape(request: Request) -> bool:
    token = get_settings().metrics_token
    header = request.headers.get("authorization", "")
    if token is not None and hmac.compare_digest(header, f"Bearer {token.get_secret_value()}"):
        return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
def metrics(request: Request) -> Response:
    if not _may_scrape(request):
        raise Forbidden("metrics are for loopback or the scraper's token (MVQ_METRICS_TOKEN)")
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
