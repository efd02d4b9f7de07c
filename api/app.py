import logging

from fastapi import FastAPI

from api import errors
from api.routes import auth, health, media, review, scoring, submissions


def create_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO)
    app = FastAPI(
        title="mvq",
        version="0.1.0",
        description="Media-verification queue: upload, process, review, score.",
    )
    errors.install(app)
    for module in (health, auth, submissions, media, review, scoring):
        app.include_router(module.router)
    return app


app = create_app()
