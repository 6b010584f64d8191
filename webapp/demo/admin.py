"""The demo's admin: a few lines of options per model."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import Action, ModelAdmin
from webapp.demo.models import Item, Status, Tag, User


async def archive(session: AsyncSession, items: list[Any]) -> str:
    for item in items:
        item.status = Status.ARCHIVED
    return f"Archived {len(items):,} item{'s' if len(items) != 1 else ''}."


class UserAdmin(ModelAdmin, model=User):
    list_display = ("username", "email", "full_name", "is_active", "created_at")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)


class ItemAdmin(ModelAdmin, model=Item):
    list_display = ("name", "price", "quantity", "status", "available_from", "owner_id", "tags")
    search_fields = ("name", "owner__username")
    ordering = ("-created_at",)
    labels = {"available_from": "Available from"}
    actions = (Action("archive", "Archive selected items", archive, confirm="Their status becomes “archived”."),)
    sqlite_fts_table = "item_fts"
    sqlite_fts_columns = ("name",)


class TagAdmin(ModelAdmin, model=Tag):
    list_display = ("name", "created_at")
    ordering = ("name",)


ADMIN_VIEWS = (UserAdmin, ItemAdmin, TagAdmin)
