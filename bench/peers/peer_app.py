"""The admin embedded over the shared peer benchmark's schema, wired as the README's "Register your own models"
says today: one `AdminPlugin` beside advanced-alchemy's `SQLAlchemyPlugin`. Served by `ours.env` in this folder
(`../shared/peers/README.md` says how to run the harness with an extra target).

    python peer_app.py prepare     # the admin's own tables in $DB_PATH, and the harness's account
    python -m uvicorn peer_app:app # serves /admin/item/, /admin/item/<id>/edit, POST /admin/item/<id>

`sa_models` (the schema every SQLAlchemy peer shares) comes from the harness's folder, `$BENCH_PEERS_DIR/apps`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(os.environ.get("BENCH_PEERS_DIR", ROOT.parent / "shared" / "peers")) / "apps")]

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin  # noqa: E402
from litestar import Litestar  # noqa: E402
from litestar.config.compression import CompressionConfig  # noqa: E402
from sa_models import ADMIN_PASSWORD, ADMIN_USER, SECRET_KEY, Base, Item, User, db_path  # noqa: E402

from webapp.admin import AdminPlugin, ModelAdmin  # noqa: E402
from webapp.admin.models import AdminAccount  # noqa: E402
from webapp.db import make_db_config  # noqa: E402


class UserAdmin(ModelAdmin, model=User):
    list_display = ("id", "username", "email", "is_active", "created_at")
    search_fields = ("username",)
    ordering = ("id",)
    per_page = 50


class ItemAdmin(ModelAdmin, model=Item):
    list_display = ("id", "name", "price", "quantity", "owner_id", "created_at")
    search_fields = ("name",)
    ordering = ("id",)
    per_page = 50
    form_fields = ("name", "description", "price", "quantity", "owner_id")


def url() -> str:
    return f"sqlite+aiosqlite:///{db_path()}"


def build() -> Litestar:
    db_config = make_db_config(url(), metadata=Base.metadata)
    return Litestar(
        plugins=[
            SQLAlchemyPlugin(config=db_config),
            AdminPlugin([UserAdmin, ItemAdmin], title="Bench", secret=SECRET_KEY[:32]),
        ],
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        openapi_config=None,
    )


async def prepare() -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(url())
    async with engine.begin() as conn:
        await conn.run_sync(AdminAccount.metadata.create_all)
    async with async_sessionmaker(engine)() as session:
        session.add(AdminAccount(username=ADMIN_USER, password=ADMIN_PASSWORD, is_superuser=True))
        await session.commit()
    await engine.dispose()


if __name__ == "__main__" and sys.argv[1:] == ["prepare"]:
    asyncio.run(prepare())
else:
    app = build()
