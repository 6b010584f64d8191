"""Who is signed in: the account's columns and permission codenames, read on every request, mostly in the same
statement as the session itself."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar.types import Scope
from sqlalchemy import Row, Select, bindparam, select

from webapp.admin.joined_strings import joined_strings
from webapp.admin.models import AdminAccount, AdminPermission, admin_account_permission

READ_SLOT = "admin_signed_in_read"
HINTS = 10_000

_CODENAMES = (
    select(joined_strings(AdminPermission.codename, "\n"))
    .select_from(
        admin_account_permission.join(AdminPermission, AdminPermission.id == admin_account_permission.c.permission_id)
    )
    .where(admin_account_permission.c.account_id == AdminAccount.id)
    .scalar_subquery()
    .label("codenames")
)
ACCOUNT_COLUMNS = (
    AdminAccount.id,
    AdminAccount.username,
    AdminAccount.is_active,
    AdminAccount.is_superuser,
    AdminAccount.session_epoch,
    _CODENAMES,
)
# Built once: SQLAlchemy reuses its compiled form on every request.
ACCOUNT_BY_ID = select(*ACCOUNT_COLUMNS).where(AdminAccount.id == bindparam("id"))


@dataclass(frozen=True)
class SignedIn:
    """The signed-in account as this request read it. Plain values rather than the ORM record: nothing writes
    through it, and it cannot be expired by a rollback later in the request (a refused write)."""

    id: int
    username: str
    is_active: bool
    is_superuser: bool
    session_epoch: int
    codenames: frozenset[str]

    @classmethod
    def from_row(cls, row: Row[Any]) -> SignedIn:
        return cls(
            id=row.id,
            username=row.username,
            is_active=bool(row.is_active),
            is_superuser=bool(row.is_superuser),
            session_epoch=row.session_epoch,
            codenames=frozenset(row.codenames.split("\n")) if row.codenames else frozenset(),
        )

    def __str__(self) -> str:
        return self.username

    def can(self, slug: str, action: str) -> bool:
        if not self.is_active:
            return False
        return self.is_superuser or f"{slug}.{action}" in self.codenames


class SignedInReadAlong:
    """Reads the signed-in account in the session store's own statement (see sessions.ReadAlong).

    Which account a session belongs to is learned on the session's first request and kept as a hint (a session
    id is made at sign-in and never changes hands). The account itself is read fresh every time: a hint only
    says which row to join, and a wrong or forgotten one costs the separate query the first request made.
    """

    def __init__(self, size: int = HINTS) -> None:
        self.size = size
        self._accounts: OrderedDict[str, int] = OrderedDict()

    def extend(self, statement: Select[Any]) -> Select[Any]:
        return statement.add_columns(*ACCOUNT_COLUMNS).outerjoin(
            AdminAccount, AdminAccount.id == bindparam("account_id")
        )

    def parameters(self, key: str) -> Mapping[str, Any] | None:
        account_id = self._accounts.get(key)
        return None if account_id is None else {"account_id": account_id}

    def received(self, scope: Scope, key: str, row: Row[Any] | None) -> None:
        scope.setdefault("state", {})[READ_SLOT] = (self, key, row)

    def remember(self, key: str, account_id: int) -> None:
        self._accounts[key] = account_id
        self._accounts.move_to_end(key)
        while len(self._accounts) > self.size:
            self._accounts.popitem(last=False)


def read_along(scope: Scope, account_id: int) -> SignedIn | None:
    """The account the session store read with this request's session, when it is `account_id`."""
    read = scope.get("state", {}).get(READ_SLOT)
    if read is None:
        return None
    _along, _key, row = read
    return SignedIn.from_row(row) if row is not None and row.id == account_id else None


def learn(scope: Scope, account_id: int) -> None:
    """Remember whose this request's session is, so its next requests read the account along."""
    read = scope.get("state", {}).get(READ_SLOT)
    if read is not None:
        along, key, _row = read
        along.remember(key, account_id)
