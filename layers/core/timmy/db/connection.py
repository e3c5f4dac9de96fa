"""PostgreSQL connections (pg8000), one per thread, reused across warm invocations.

Lambda runs one invocation at a time per process, so "one per thread" is "one per warm
container" there. Code that calls the services from several threads at once (the
concurrency tests) gets a connection per thread, never one shared mid-transaction.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from timmy.settings import CoreSettings, core, read_secret_json

logger = logging.getLogger(__name__)

Row = dict[str, Any]

_local = threading.local()


def connect_kwargs(settings: CoreSettings) -> dict[str, Any]:
    """pg8000 connection arguments from DATABASE_URL, or from the AWS settings."""
    if settings.database_url:
        return _kwargs_from_url(settings.database_url)
    return _aws_kwargs(settings)


def _kwargs_from_url(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    kwargs: dict[str, Any] = {
        "user": unquote(parsed.username or "postgres"),
        "database": (parsed.path or "/postgres").lstrip("/") or "postgres",
    }
    if parsed.password:
        kwargs["password"] = unquote(parsed.password)
    socket_dir = query.get("host", [""])[0]
    port = parsed.port or 5432
    # pg8000's default (None) tries unverified TLS and silently falls back to plaintext:
    # always say which one is meant.
    kwargs["ssl_context"] = False
    if socket_dir.startswith("/"):
        # A Unix socket directory, as the embedded pgserver hands out.
        kwargs["unix_sock"] = f"{socket_dir}/.s.PGSQL.{port}"
    else:
        kwargs["host"] = parsed.hostname or "127.0.0.1"
        kwargs["port"] = port
        sslmode = query.get("sslmode", ["disable"])[0]
        if sslmode in {"require", "verify-ca", "verify-full"}:
            kwargs["ssl_context"] = ssl.create_default_context()
    return kwargs


def _aws_kwargs(settings: CoreSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": settings.db_host,
        "port": settings.db_port,
        "database": settings.db_name,
        "user": settings.db_user,
        # RDS Proxy presents an ACM certificate, trusted by the default CA store; verifying
        # it stops pg8000's default of silently falling back to an unverified channel.
        "ssl_context": ssl.create_default_context() if settings.db_ssl else False,
    }
    if settings.db_iam_auth:
        import boto3  # only the AWS path needs it

        rds = boto3.client("rds", region_name=settings.aws_region)
        # The token is valid for 15 minutes: generated per connection, never cached.
        kwargs["password"] = rds.generate_db_auth_token(
            DBHostname=settings.db_host, Port=settings.db_port, DBUsername=settings.db_user
        )
    elif settings.db_secret_arn:
        secret = read_secret_json(settings.db_secret_arn, variable="DB_SECRET_ARN")
        kwargs["user"] = secret.get("username", settings.db_user)
        kwargs["password"] = secret["password"]
    return kwargs


def open_connection(settings: CoreSettings | None = None) -> pg8000.native.Connection:
    return pg8000.native.Connection(**connect_kwargs(settings or core()), timeout=30)


class _ThreadConnection:
    """Holds a thread's connection and closes it when the thread ends.

    pg8000 connections sit in reference cycles, so without this a finished thread's
    connection stays open until the cyclic garbage collector happens to run. This holder has
    no cycles: thread-local storage drops it at thread exit and it closes the connection.
    """

    __slots__ = ("conn",)

    def __init__(self) -> None:
        self.conn: pg8000.native.Connection | None = None

    def __del__(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.debug("closing a finished thread's connection failed", exc_info=True)


def _holder() -> _ThreadConnection:
    holder: _ThreadConnection | None = getattr(_local, "holder", None)
    if holder is None:
        holder = _ThreadConnection()
        _local.holder = holder
    return holder


def get_connection() -> pg8000.native.Connection:
    """This thread's connection, opened on first use."""
    holder = _holder()
    if holder.conn is None:
        holder.conn = open_connection()
    return holder.conn


def reset_connection() -> None:
    """Drop this thread's connection (after a network error, or in tests)."""
    holder = _holder()
    conn, holder.conn = holder.conn, None
    if conn is not None:
        try:
            conn.close()
        except Exception:
            logger.debug("closing a broken connection failed", exc_info=True)


_PREPARED_ATTRIBUTE = "_timmy_prepared"


def _prepared(conn: pg8000.native.Connection, sql: str) -> pg8000.native.PreparedStatement:
    """The server-side prepared statement for ``sql`` on this connection, prepared once.

    pg8000's one-off path re-parses the text in Python and spends three round trips (parse,
    describe, execute) on every run; a prepared statement is parsed and planned once per
    connection and then runs in one. Parameter types are inferred by the server either way.
    """
    cache: dict[str, pg8000.native.PreparedStatement] | None = getattr(
        conn, _PREPARED_ATTRIBUTE, None
    )
    if cache is None:
        cache = {}
        setattr(conn, _PREPARED_ATTRIBUTE, cache)
    statement = cache.get(sql)
    if statement is None:
        statement = conn.prepare(sql)
        cache[sql] = statement
    return statement


@dataclass(frozen=True)
class _Result:
    rows: list[list[Any]]
    columns: list[dict[str, Any]] | None
    row_count: int


def _run(conn: pg8000.native.Connection, sql: str, params: dict[str, Any]) -> _Result:
    if not params:
        rows = conn.run(sql)
        return _Result(rows or [], conn.columns, int(conn.row_count or 0))
    statement = _prepared(conn, sql)
    rows = statement.run(**params)
    context = statement._context  # pg8000 keeps the row count only there
    return _Result(rows or [], context.columns, int(context.row_count or 0))


class Db:
    """A thin query API over one connection: named parameters (``:name``), dict rows."""

    def __init__(self, conn: pg8000.native.Connection) -> None:
        self.conn = conn

    def all(self, sql: str, **params: Any) -> list[Row]:
        result = _run(self.conn, sql, params)
        if not result.rows or not result.columns:
            return []
        names = [c["name"] for c in result.columns]
        return [dict(zip(names, r, strict=True)) for r in result.rows]

    def one(self, sql: str, **params: Any) -> Row | None:
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def scalar(self, sql: str, **params: Any) -> Any:
        result = _run(self.conn, sql, params)
        return result.rows[0][0] if result.rows else None

    def execute(self, sql: str, **params: Any) -> int:
        return _run(self.conn, sql, params).row_count


class NestedTransactionError(RuntimeError):
    """A transaction was opened inside another on the same connection.

    Connections are per thread, so the inner BEGIN/COMMIT would silently commit the outer
    transaction half-way: the one guard against that, for every caller.
    """


@contextmanager
def transaction() -> Iterator[Db]:
    """One database transaction; rolled back on any exception.

    A connection found broken when the transaction starts is replaced once, so a warm Lambda
    whose connection was closed by the proxy recovers by itself.
    """
    if getattr(_local, "in_transaction", False):
        raise NestedTransactionError(
            "a transaction is already open on this thread: call this outside it, or pass its"
            " Db down"
        )
    try:
        conn = get_connection()
        conn.run("BEGIN")
    except (InterfaceError, OSError):
        reset_connection()
        conn = get_connection()
        conn.run("BEGIN")
    _local.in_transaction = True
    try:
        yield Db(conn)
    except BaseException:
        try:
            conn.run("ROLLBACK")
        except (InterfaceError, DatabaseError, OSError):
            reset_connection()
        raise
    else:
        conn.run("COMMIT")
    finally:
        _local.in_transaction = False


def in_transaction() -> bool:
    return bool(getattr(_local, "in_transaction", False))


def db() -> Db:
    """Autocommit access for single statements and reads."""
    return Db(get_connection())


def ping() -> bool:
    try:
        with transaction() as tx:
            return tx.scalar("SELECT 1") == 1
    except Exception:
        logger.warning("database ping failed", exc_info=True)
        reset_connection()
        return False
