"""One unit of work per request (edge.unit_of_work): a handler's writes and jobs are committed
and sent once it has returned, before the response leaves; a handler that raises leaves
nothing stored and nothing enqueued."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge import unit_of_work
from edge.unit_of_work import SessionDep
from mvq import queue
from mvq.db import build_engine

NOTES = Table("notes", MetaData(), Column("id", String, primary_key=True))


def job(name: str) -> queue.PendingJob:
    return queue.PendingJob(queue="media", func="f", args=(), job_id=name, timeout=1)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    engine = build_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    NOTES.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    monkeypatch.setattr(unit_of_work, "session_factory", lambda: factory)
    yield engine
    engine.dispose()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(queue, "send", lambda pending: sent.append(pending.job_id))
    return sent


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(NOTES.c.id)))


class SeenAtResponseStart:
    """What another connection reads, and which jobs were sent, at the moment the response
    starts: what a client that reads right after the answer finds."""

    def __init__(self, app: ASGIApp, *, engine: Engine, sent: list[str]) -> None:
        self.app, self.engine, self.sent = app, engine, sent
        self.rows: list[str] | None = None
        self.jobs: list[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.rows, self.jobs = stored(self.engine), list(self.sent)
            await send(message)

        await self.app(scope, receive, watching)


def the_app() -> FastAPI:
    app = FastAPI()

    @app.post("/notes/{note_id}", status_code=201)
    def write(note_id: str, session: SessionDep) -> dict[str, str]:
        session.execute(insert(NOTES).values(id=note_id))
        queue.enqueue_after_commit(session, job(f"job-{note_id}"))
        return {"id": note_id}

    @app.post("/notes/{note_id}/then-fail")
    def write_then_fail(note_id: str, session: SessionDep) -> None:
        session.execute(insert(NOTES).values(id=note_id))
        queue.enqueue_after_commit(session, job(f"job-{note_id}"))
        session.flush()
        raise RuntimeError("after the write")

    return app


def test_a_201_is_committed_and_its_job_sent_before_the_response_starts(
    engine: Engine, sent: list[str]
) -> None:
    watcher = SeenAtResponseStart(the_app(), engine=engine, sent=sent)
    with TestClient(watcher) as client:
        assert client.post("/notes/a").status_code == 201
    assert watcher.rows == ["a"]
    assert watcher.jobs == ["job-a"]


def test_a_handler_that_raises_after_writing_leaves_nothing_and_enqueues_nothing(
    engine: Engine, sent: list[str]
) -> None:
    with TestClient(the_app(), raise_server_exceptions=False) as client:
        assert client.post("/notes/b/then-fail").status_code == 500
    assert stored(engine) == []
    assert sent == []


def test_jobs_ride_on_the_session_sent_on_commit_dropped_on_rollback(
    engine: Engine, sent: list[str]
) -> None:
    factory = sessionmaker(engine)
    with factory() as session:
        queue.enqueue_after_commit(session, job("dropped"))
        session.execute(insert(NOTES).values(id="dropped"))
        session.rollback()
        queue.enqueue_after_commit(session, job("kept"))
        session.execute(insert(NOTES).values(id="kept"))
        session.commit()
    assert sent == ["kept"]
    assert stored(engine) == ["kept"]


def test_keep_so_far_commits_what_a_refusal_must_not_undo(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(insert(NOTES).values(id="audit"))
        unit_of_work.keep_so_far(session)
        session.execute(insert(NOTES).values(id="later"))
        unit_of_work.discard_so_far(session)
    assert stored(engine) == ["audit"]
