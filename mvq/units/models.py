from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class Unit(Base):
    """A field unit: it uploads claims and earns points."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deactivated: its tokens are revoked and its members disabled; its claims and ledger stay.
    disabled_at: Mapped[datetime | None]
