"""The admin core: register models with ModelAdmin options, mount with AdminPlugin. Knows nothing of any app."""

from webapp.admin.bulk import Action
from webapp.admin.options import ModelAdmin
from webapp.admin.plugin import AdminPlugin
from webapp.admin.site import AdminSite

__all__ = ["Action", "AdminPlugin", "AdminSite", "ModelAdmin"]
