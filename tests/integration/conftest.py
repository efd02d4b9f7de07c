from pathlib import Path

import pytest

from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.review.models import ItemState, ReviewItem
from mvq.rules import service as rules
from testkit import footage
from testkit.people import Accounts, make_staff, make_unit
from tests.copies import Copies, make_copies


@pytest.fixture(scope="module")
def accounts(database: str) -> Accounts:
    with session_factory(database)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
        unit_id, unit_token = make_unit(session)
        other_id, other_token = make_unit(session)
        staff = {role.value: make_staff(session, role) for role in Role if role != Role.unit}
    return Accounts(unit_id, unit_token, other_id, other_token, staff)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footage")


@pytest.fixture(scope="session")
def tank_clip(clips: Path) -> Path:
    return footage.clip("chelsea", clips / "chelsea.mp4")


@pytest.fixture(scope="session")
def big_clip(clips: Path) -> Path:
    """About 23 MB: above the 16 MiB multipart threshold, three 8 MiB parts."""
    return footage.clip("astronaut", clips / "astronaut-720p.mp4", size="1280x720", lossless=True)


@pytest.fixture
def empty_queue(database: str) -> None:
    with session_factory()() as session:
        session.query(ReviewItem).filter(
            ReviewItem.state.in_(["pending", "leased", "escalated"])
        ).update({"state": ItemState.decided}, synchronize_session=False)
        session.commit()


@pytest.fixture(scope="module")
def copies(accounts: Accounts) -> Copies:
    return make_copies(accounts)
