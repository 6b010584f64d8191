"""A model's hooks run with the request's session inside its one transaction: before and after create, update
and delete (and restore, which creates). A hook that refuses shows its message on the field, and nothing of the
write, of the hook's own work or of the audit entry is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import MetaData, String, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import HTMX, Person, own_tables, signed_in
from webapp.admin import ModelAdmin
from webapp.admin.models import AdminLogEntry
from webapp.admin.records import Refused, WriteContext

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Invoice(Base):
    __tablename__ = "hooked_invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    reference: Mapped[str | None] = mapped_column(String(40))

    def __str__(self) -> str:
        return self.title


class Event(Base):
    """What the hooks write, through the request's session."""

    __tablename__ = "hooked_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


class InvoiceAdmin(ModelAdmin, model=Invoice):
    list_display = ("title", "amount", "locked", "reference")

    async def before_create(self, context: WriteContext, obj: Any) -> None:
        if obj.title.lower().startswith("draft"):
            raise Refused("Drafts are not invoices.", field="title")
        # A hook may fill in values: the next reference, counted in the same transaction.
        count = await context.session.scalar(select(func.count()).select_from(Invoice)) or 0
        obj.reference = obj.reference or f"INV-{count + 1:04d}"

    async def after_create(self, context: WriteContext, obj: Any) -> None:
        context.session.add(Event(text=f"{context.action} {obj.id} {obj.title} by {context.account.username}"))
        await context.session.flush()
        if obj.amount == 13:
            raise Refused("Thirteen is unlucky: this invoice was not kept.", field="amount")

    async def before_update(self, context: WriteContext, obj: Any, changes: dict[str, list[Any]]) -> None:
        if obj.amount < 0:
            raise Refused("An invoice cannot be negative.", field="amount")
        if "locked" not in changes and obj.locked:
            raise Refused("This invoice is locked.")

    async def after_update(self, context: WriteContext, obj: Any, changes: dict[str, list[Any]]) -> None:
        context.session.add(Event(text=f"update {obj.id} {sorted(changes)}"))
        await context.session.flush()
        if obj.amount == 13:
            raise Refused("Thirteen is unlucky.", field="amount")

    async def before_delete(self, context: WriteContext, obj: Any) -> None:
        if obj.locked:
            raise Refused(f"“{obj.title}” is locked and cannot be deleted.")

    async def after_delete(self, context: WriteContext, obj: Any) -> None:
        context.session.add(Event(text=f"delete {obj.id}"))
        await context.session.flush()
        if obj.title == "keep me":
            raise Refused("That one is kept after all.")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


@pytest.fixture
async def browser(db: Any, database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [InvoiceAdmin], "clerk") as person:
        yield person


async def _invoices(db: Any) -> list[tuple[str, int, str | None]]:
    async with db() as session:
        rows = await session.execute(select(Invoice.title, Invoice.amount, Invoice.reference).order_by(Invoice.id))
        return [tuple(row) for row in rows]


async def _events(db: Any) -> list[str]:
    async with db() as session:
        return list(await session.scalars(select(Event.text).order_by(Event.id)))


async def _log(db: Any) -> list[str]:
    async with db() as session:
        return list(await session.scalars(select(AdminLogEntry.action).order_by(AdminLogEntry.id)))


async def _add(db: Any, **values: Any) -> int:
    async with db() as session:
        invoice = Invoice(**values)
        session.add(invoice)
        await session.commit()
        return invoice.id


async def test_create_hooks_fill_in_values_and_write_in_the_same_transaction(browser, db):
    created = await browser.post("/admin/invoice/", {"title": "Rent", "amount": "900"})
    assert created.status_code == 303
    assert await _invoices(db) == [("Rent", 900, "INV-0001")]
    assert await _events(db) == ["create 1 Rent by clerk"]
    assert await _log(db) == ["create"]


async def test_a_before_create_refusal_is_shown_on_its_field_and_writes_nothing(browser, db):
    refused = await browser.post("/admin/invoice/", {"title": "Draft of rent", "amount": "900"})
    assert refused.status_code == 422
    assert 'id="field-title-error"' in refused.text and "Drafts are not invoices." in refused.text
    assert 'value="Draft of rent"' in refused.text, "the form keeps what was typed"
    assert await _invoices(db) == [] and await _events(db) == [] and await _log(db) == []


async def test_an_after_create_refusal_undoes_the_insert_the_hooks_work_and_the_audit_entry(browser, db):
    refused = await browser.post("/admin/invoice/", {"title": "Unlucky", "amount": "13"})
    assert refused.status_code == 422 and "Thirteen is unlucky: this invoice was not kept." in refused.text
    assert 'id="field-amount-error"' in refused.text
    assert await _invoices(db) == [] and await _events(db) == [] and await _log(db) == []
    # The same form, corrected, then goes through.
    assert (await browser.post("/admin/invoice/", {"title": "Unlucky", "amount": "12"})).status_code == 303
    assert await _invoices(db) == [("Unlucky", 12, "INV-0001")]


async def test_update_hooks_refuse_on_the_field_or_above_the_form(browser, db):
    pk = await _add(db, title="Rent", amount=900)
    negative = await browser.post(f"/admin/invoice/{pk}", {"title": "Rent", "amount": "-5"})
    assert negative.status_code == 422 and "An invoice cannot be negative." in negative.text
    assert 'id="field-amount-error"' in negative.text and 'value="-5"' in negative.text
    unlucky = await browser.post(f"/admin/invoice/{pk}", {"title": "Rent", "amount": "13"})
    assert unlucky.status_code == 422 and "Thirteen is unlucky." in unlucky.text
    assert await _invoices(db) == [("Rent", 900, None)]
    assert await _events(db) == [] and await _log(db) == []
    changed = await browser.post(f"/admin/invoice/{pk}", {"title": "Rent", "amount": "950"})
    assert changed.status_code == 303
    assert await _events(db) == ["update 1 ['amount']"] and await _log(db) == ["update"]
    locked = await _add(db, title="Old", amount=1, locked=True)
    refused = await browser.post(f"/admin/invoice/{locked}", {"title": "Older", "amount": "1", "locked": "true"})
    assert refused.status_code == 422 and "This invoice is locked." in refused.text
    assert (await _invoices(db))[1] == ("Old", 1, None)


async def test_an_inline_update_refusal_stays_in_its_row(browser, db):
    pk = await _add(db, title="Rent", amount=900)
    refused = await browser.post(f"/admin/invoice/{pk}", {"title": "Rent", "amount": "-1"}, **HTMX)
    assert refused.status_code == 422
    assert "An invoice cannot be negative." in refused.text and f'id="invoice-{pk}"' in refused.text
    assert await _invoices(db) == [("Rent", 900, None)]


async def test_delete_hooks_refuse_and_undo(browser, db):
    locked = await _add(db, title="Locked", amount=1, locked=True)
    refused = await browser.post(f"/admin/invoice/{locked}/delete", {})
    assert refused.status_code == 409 and "“Locked” is locked and cannot be deleted." in refused.text
    kept = await _add(db, title="keep me", amount=2)
    after = await browser.post(f"/admin/invoice/{kept}/delete", {}, **HTMX)
    assert after.status_code == 409 and "That one is kept after all." in after.text
    assert [title for title, *_ in await _invoices(db)] == ["Locked", "keep me"]
    assert await _events(db) == [] and await _log(db) == []
    gone = await _add(db, title="Gone", amount=3)
    assert (await browser.post(f"/admin/invoice/{gone}/delete", {})).status_code == 303
    assert await _events(db) == [f"delete {gone}"] and await _log(db) == ["delete"]


async def test_a_bulk_delete_runs_the_hooks_of_every_row_and_one_refusal_keeps_them_all(browser, db):
    first = await _add(db, title="First", amount=1)
    locked = await _add(db, title="Locked", amount=2, locked=True)
    ids = [("action", "delete"), ("confirm", "yes"), ("ids", str(first)), ("ids", str(locked))]
    refused = await browser.post("/admin/invoice/bulk", ids)
    assert refused.status_code == 409
    assert "“Locked” is locked and cannot be deleted." in refused.text and "Nothing was changed." in refused.text
    assert len(await _invoices(db)) == 2 and await _events(db) == [] and await _log(db) == []
    done = await browser.post("/admin/invoice/bulk", [("action", "delete"), ("confirm", "yes"), ("ids", str(first))])
    assert done.status_code == 303
    assert await _events(db) == [f"delete {first}"] and await _log(db) == ["delete"]


async def test_restore_runs_the_create_hooks(browser, db):
    pk = await _add(db, title="Rent", amount=900)
    assert (await browser.post(f"/admin/invoice/{pk}/delete", {})).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry.id).where(AdminLogEntry.action == "delete"))
    restored = await browser.post(f"/admin/invoice/{pk}/restore", {"entry": str(entry)})
    assert restored.status_code == 303
    assert await _invoices(db) == [("Rent", 900, "INV-0001")], "before_create filled in the missing reference"
    assert await _events(db) == [f"delete {pk}", f"restore {pk} Rent by clerk"]
    assert await _log(db) == ["delete", "restore"]


async def test_a_refused_restore_is_not_restored(browser, db):
    pk = await _add(db, title="Draft invoice", amount=900)
    assert (await browser.post(f"/admin/invoice/{pk}/delete", {})).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry.id).where(AdminLogEntry.action == "delete"))
    refused = await browser.post(f"/admin/invoice/{pk}/restore", {"entry": str(entry)})
    assert refused.status_code == 409 and "Drafts are not invoices." in refused.text
    assert await _invoices(db) == [] and await _log(db) == ["delete"]
    async with db() as session:
        assert (await session.get(AdminLogEntry, entry)).restored is False
