import logging

from fastapi import FastAPI

from api import errors
from api.limits import BodyLimit
from api.routes import auth, health, media, review, scoring, submissions, units
from mvq.settings import get_settings


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO)
    app = FastAPI(
        title="mvq",
        version="0.1.0",
        description="Media-verification queue: upload, process, review, score.",
    )
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_request_body_bytes)
    for module in (health, auth, submissions, media, review, scoring, units):
        app.include_router(module.router)
    return app


app = create_app()
