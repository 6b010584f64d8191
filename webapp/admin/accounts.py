"""Accounts: their admin options, the permission rows kept in step with the registry, and the CLI commands."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any

import click
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from litestar import Litestar
from litestar.cli._utils import LitestarGroup
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.models import ACTIONS, AdminAccount, AdminPermission
from webapp.admin.options import READ_ACTIONS, ModelAdmin
from webapp.admin.site import AdminSite

log = logging.getLogger(__name__)
MIN_PASSWORD_LENGTH = 8


class AccountAdmin(ModelAdmin, model=AdminAccount):
    slug = "account"
    name = "account"
    list_display = ("username", "is_active", "is_superuser", "last_login_at")
    form_fields = ("username", "is_active", "is_superuser", "permissions")
    search_fields = ("username",)
    ordering = ("username",)
    labels = {"is_superuser": "Superuser", "last_login_at": "Last sign-in"}
    password_field = "password"
    superuser_only = True

    async def before_update(self, context: Any, obj: Any, changes: dict[str, Any]) -> None:
        # Sessions carry the epoch they started in; a new one ends every other session of this account.
        if changes.keys() & {"password", "is_active", "is_superuser", "permissions"}:
            obj.session_epoch = (obj.session_epoch or 0) + 1


def wanted_permissions(admins: list[ModelAdmin]) -> dict[str, str]:
    """codename -> human name, for every registered model, action and custom action."""
    wanted = {}
    for admin in admins:
        if admin.superuser_only:
            continue
        actions = [*ACTIONS, *(f"action:{a.name}" for a in admin.actions)]
        for action in [a for a in actions if not admin.read_only or a in READ_ACTIONS]:
            verb = action.removeprefix("action:").replace("_", " ")
            wanted[f"{admin.slug}.{action}"] = f"Can {verb} {admin.name_plural}"
    return wanted


async def sync_permissions(session: AsyncSession, admins: list[ModelAdmin]) -> int:
    """Insert the permission rows the registry needs; returns how many were added."""
    wanted = wanted_permissions(admins)
    existing = set((await session.execute(select(AdminPermission.codename))).scalars())
    missing = [AdminPermission(codename=c, name=n) for c, n in wanted.items() if c not in existing]
    session.add_all(missing)
    await session.commit()
    return len(missing)


async def sync_permissions_on_startup(site: AdminSite) -> None:
    try:
        async with site.db_config.get_session() as session:
            added = await sync_permissions(session, list(site))
    except IntegrityError:
        # Another process (a worker starting beside this one) added the same rows first: they are there.
        log.info("admin permissions synced by another process meanwhile")
        return
    except (OperationalError, ProgrammingError) as exc:  # tables not migrated yet
        log.warning("admin permissions not synced (run the migrations): %s", exc.orig)
        return
    except (OSError, TimeoutError) as exc:
        # The database server does not answer (yet): the app starts all the same and `/health` says 503 until it
        # does. A process that refused to start would stop uvicorn's other workers with it.
        log.warning("admin permissions not synced: the database does not answer (%s)", exc)
        return
    if added:
        log.info("added %d admin permissions", added)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="password")


async def _with_session(config: SQLAlchemyAsyncConfig, work: Any) -> Any:
    try:
        async with config.get_session() as session:
            return await work(session)
    finally:
        await config.get_engine().dispose()


def sites_of(app: Litestar) -> list[AdminSite]:
    """The admins mounted on `app`, in the order their plugins were given."""
    return [plugin.site for plugin in app.plugins.init if isinstance(getattr(plugin, "site", None), AdminSite)]


def _site(app: Litestar, path: str | None) -> AdminSite:
    sites = sites_of(app)
    if not sites:
        raise click.ClickException(f"{_app_path()} mounts no admin (AdminPlugin)")
    if path is None and len(sites) == 1:
        return sites[0]
    for site in sites:
        if path is not None and site.path == path.rstrip("/"):
            return site
    raise click.ClickException(
        f"{_app_path()} mounts admins at {', '.join(s.path for s in sites)}: choose one with --admin PATH"
    )


def _app_path() -> str:
    """How the person named the app on the command line (`litestar --app <this>`), for messages."""
    root = click.get_current_context().find_root().obj
    return getattr(root, "app_path", None) or os.environ.get("LITESTAR_APP") or "<your app>"


admin_option = click.option("--admin", "admin_path", default=None, help="The admin's path, when the app has several.")


@click.group(cls=LitestarGroup, name="admin")
def admin_group() -> None:
    """Manage admin accounts."""


@admin_group.command(name="create-user")
@click.option("--username", prompt=True, help="Sign-in name.")
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@click.option("--superuser/--no-superuser", default=True, show_default=True)
@admin_option
def create_user(app: Litestar, username: str, password: str | None, superuser: bool, admin_path: str | None) -> None:
    """Create an admin account."""
    site = _site(app, admin_path)
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _check_password(password)

    async def work(session: AsyncSession) -> None:
        if await session.scalar(select(AdminAccount).where(func.lower(AdminAccount.username) == username.lower())):
            raise click.ClickException(f"an account named {username!r} already exists")
        session.add(AdminAccount(username=username, password=password, is_superuser=superuser))
        await session.commit()
        await sync_permissions(session, list(site))

    asyncio.run(_with_session(site.db_config, work))
    click.echo(f"Created {'superuser' if superuser else 'account'} {username!r}.")


@admin_group.command(name="change-password")
@click.option("--username", prompt=True)
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@admin_option
def change_password(app: Litestar, username: str, password: str | None, admin_path: str | None) -> None:
    """Set an account's password; its sessions end."""
    site = _site(app, admin_path)
    password = password or click.prompt("New password", hide_input=True, confirmation_prompt=True)
    _check_password(password)

    async def work(session: AsyncSession) -> None:
        account = await session.scalar(select(AdminAccount).where(AdminAccount.username == username))
        if account is None:
            raise click.ClickException(f"no account named {username!r}")
        account.password = password
        account.session_epoch += 1
        await session.commit()

    asyncio.run(_with_session(site.db_config, work))
    click.echo(f"Password changed for {username!r}; its sessions have ended.")


@admin_group.command(name="ensure-superuser")
@admin_option
def ensure_superuser(app: Litestar, admin_path: str | None) -> None:
    """Create the first account when there is none, from ADMIN_USERNAME/ADMIN_PASSWORD or a generated password."""
    site = _site(app, admin_path)
    username = os.environ.get("ADMIN_USERNAME") or "admin"
    given = os.environ.get("ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    if given:
        _check_password(given)

    async def work(session: AsyncSession) -> bool:
        await sync_permissions(session, list(site))
        if await session.scalar(select(func.count()).select_from(AdminAccount)):
            return False
        session.add(AdminAccount(username=username, password=password, is_superuser=True))
        await session.commit()
        return True

    if not asyncio.run(_with_session(site.db_config, work)):
        click.echo("An admin account exists already.")
        return
    if given:
        click.echo(f"Created superuser {username!r} from ADMIN_USERNAME/ADMIN_PASSWORD.")
    else:
        click.echo(f"Created superuser {username!r} with password: {password}")
        click.echo(f"This password is shown once. Change it with: litestar --app {_app_path()} admin change-password")
