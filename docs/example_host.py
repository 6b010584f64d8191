"""A whole host app with the admin: its own model, SQLite, and one plugin line (README, "Embedding").

    litestar --app-dir docs --app example_host:app database upgrade --no-prompt   # the admin's tables
    litestar --app-dir docs --app example_host:app admin create-user --username me
    litestar --app-dir docs --app example_host:app run                            # then open /admin/

tests/test_example_host.py runs exactly this, so the example cannot rot.
"""

from __future__ import annotations

import os

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from webapp.admin import AdminPlugin, ModelAdmin


class Base(DeclarativeBase):
    metadata = MetaData()


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    pages: Mapped[int | None]


class BookAdmin(ModelAdmin, model=Book):
    list_display = ("title", "pages")
    search_fields = ("title",)


db = SQLAlchemyAsyncConfig(
    connection_string=os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///books.sqlite3"),
    metadata=Base.metadata,
    create_all=True,  # the host's own table; the admin's come from `litestar database upgrade`
)

app = Litestar(
    plugins=[SQLAlchemyPlugin(config=db), AdminPlugin([BookAdmin], secret=os.environ.get("SECRET_KEY"))],
)
