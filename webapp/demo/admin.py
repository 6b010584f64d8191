"""The demo's admin: a few lines of options per model."""

from webapp.admin import ModelAdmin
from webapp.demo.models import Item, Tag, User


class UserAdmin(ModelAdmin, model=User):
    list_display = ("username", "email", "full_name", "is_active", "created_at")
    search_fields = ("username", "email", "full_name")
    ordering = ("username",)


class ItemAdmin(ModelAdmin, model=Item):
    list_display = ("name", "price", "quantity", "status", "available_from", "owner_id", "tags")
    search_fields = ("name",)
    ordering = ("-created_at",)
    labels = {"available_from": "Available from"}


class TagAdmin(ModelAdmin, model=Tag):
    list_display = ("name", "created_at")
    ordering = ("name",)


ADMIN_VIEWS = (UserAdmin, ItemAdmin, TagAdmin)
