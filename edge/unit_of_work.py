"""One unit of work per request: the session every handler and dependency of a request shares.

It commits once, when the handler has returned without an error, and rolls back when anything
raised; no handler commits or rolls back by hand. Jobs enqueued during the request ride on the
session (mvq.queue): they are sent once the commit has happened and dropped with a rollback.

The commit happens before the response is sent, so a client that reads right after a 201 finds
its write. FastAPI runs the exit code of a yield dependency after sending the response unless
the dependency is scoped to the function (`scope="function"`, FastAPI >= 0.121): the exit then
runs as soon as the handler has returned and its response is built, and an error from the
commit itself is answered like any other.

Two named exceptions, for the few handlers that must not follow the rule silently:
`keep_so_far` commits what must stay even if an error follows (a refusal's own record), and
`discard_so_far` undoes a refused change whose refusal a page shows instead of raising it.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from mvq.db import session_factory


def get_session() -> Iterator[Session]:
    session = session_factory()()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    else:
        session.commit()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def keep_so_far(session: Session) -> None:
    """Commit what the request has written so far, whatever the handler then does: for a write
    that must stay although the answer may be an error. A failed second factor's audit and
    count (an attacker's failures must leave a trace), and the reader's language choice, taken
    before the page is known. Everything written after this call follows the request's own
    outcome again."""
    session.commit()


def discard_so_far(session: Session) -> None:
    """Undo what the request has written so far, and drop the jobs it enqueued: for a handler
    that shows a domain refusal on its page (a 4xx page or a redirect with a message) instead
    of raising it, so the half-done change is not committed with the page's own reads. Also
    ends a transaction that only read (see edge.deps.get_principal)."""
    session.rollback()
