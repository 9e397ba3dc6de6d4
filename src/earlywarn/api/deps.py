"""FastAPI dependencies shared by every router: the request's session and the path types.

The session is owned by the request: committed when the handler returns, rolled back when it
raises. Services called by handlers never commit. Who the caller is lives in ``auth.deps``; the
loaded configuration in ``framework.deps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from earlywarn.db import session_scope


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit is an
# error response rather than a 200 for data that was never saved.
# Ids are 32-bit on PostgreSQL (SERIAL): a larger number cannot name a row, and must be refused
# as bad input (422) before it reaches a database driver that would overflow on it.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Every country code earlywarn knows is three letters (ISO 3166-1 alpha-3, XKX, historical
# states); routes upper-case it. Anything else is refused before it reaches a query.
Iso3Path = Annotated[
    str, Path(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3 code, e.g. KEN")
]

SessionDep = Annotated[Session, Depends(get_session, scope="function")]
