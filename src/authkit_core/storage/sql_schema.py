"""The sessions table of ``SQLSessionStore``: its definition (:func:`session_table`), its DDL (:func:`ddl`) and
every statement the store runs, built once per table (:class:`_Statements`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_mock_engine,
    delete,
    insert,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import BindParameter

from .sealed_payload import OWNER_MAX

__all__ = ["DEFAULT_TABLE_NAME", "ddl", "session_table"]

#: The table name used unless ``table_name=`` says otherwise.
DEFAULT_TABLE_NAME = "authkit_sessions"
# MySQL's BLOB stops at 64 KiB; MEDIUMBLOB leaves room for large user metadata.
_BLOB = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


def session_table(metadata: MetaData, name: str = DEFAULT_TABLE_NAME) -> Table:
    """Define the sessions table on ``metadata`` (for Alembic autogenerate or your own ``create_all``)."""
    return Table(
        name,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("user_id", String(255), nullable=False, index=True),
        Column("session_id", String(255), nullable=True),
        Column("data", _BLOB, nullable=False),
        Column("created_at", Double(), nullable=False),
        Column("updated_at", Double(), nullable=False),
        Column("expires_at", Double(), nullable=False, index=True),
        Column("version", Integer(), nullable=False),
        Column("lease_owner", String(OWNER_MAX), nullable=True),
        Column("lease_until", Double(), nullable=True),
    )


def ddl(dialect: str, table_name: str = DEFAULT_TABLE_NAME) -> str:
    """The ``CREATE TABLE`` and ``CREATE INDEX`` statements for ``dialect`` (``postgresql``, ``mysql``, ...)."""
    metadata = MetaData()
    session_table(metadata, table_name)
    statements: list[str] = []

    def collect(sql: Any, *args: Any, **kwargs: Any) -> None:
        statements.append(str(sql.compile(dialect=engine.dialect)).strip() + ";")

    engine = create_mock_engine(make_url(f"{dialect}://"), collect)
    metadata.create_all(engine, checkfirst=False)
    return "\n\n".join(statements) + "\n"


class _Statements:
    """Every statement the store runs, built once from the table with named bound parameters."""

    def __init__(self, t: Table) -> None:
        c = t.c
        owner = bindparam("owner", type_=String())
        now: BindParameter[float] = bindparam("now", type_=Double())
        self.select = select(c.data, c.expires_at, c.version).where(c.id == bindparam("row_id"))
        self.insert = insert(t)
        # Only a row that is still there and unexpired is saved: an update never brings back a session that was
        # signed out, revoked or expired while its refresh was in flight.
        self.update = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(c.expires_at > now)
            .values(
                data=bindparam("new_data"),
                user_id=bindparam("new_user_id"),
                session_id=bindparam("new_session_id"),
                updated_at=now,
                expires_at=bindparam("new_expires_at"),
                version=c.version + 1,
                lease_owner=None,
                lease_until=None,
            )
        )
        self.delete = delete(t).where(c.id == bindparam("row_id"))
        free = or_(c.lease_owner.is_(None), c.lease_until < now, c.lease_owner == owner)
        self.acquire = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(free)
            .values(lease_owner=owner, lease_until=bindparam("until"))
        )
        # The same, granted only while the row is still the version the caller read (and not expired): a grant
        # proves the caller's copy current, which saves re-reading the row. Works on every dialect (no RETURNING,
        # which MariaDB lacks for UPDATE).
        self.acquire_current = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(c.version == bindparam("read_version"))
            .where(c.expires_at > now)
            .where(free)
            .values(lease_owner=owner, lease_until=bindparam("until"))
        )
        self.release = (
            update(t)
            .where(c.id == bindparam("row_id"))
            .where(c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        self.delete_expired = delete(t).where(c.expires_at < now)
        self.delete_user = delete(t).where(c.user_id == bindparam("user"))
