"""SQLite, the default database, keeps a write-ahead log: the Runs page and the other pages
read while the archiver writes, and several web workers read at once, without waiting."""

from __future__ import annotations

from django.db.utils import ConnectionHandler

from flowsite.env import env_database


def test_a_sqlite_database_keeps_a_write_ahead_log(tmp_path, django_db_blocker):
    database = env_database("FLOWSITE_TEST_UNSET_URL", f"sqlite:///{tmp_path / 'site.sqlite3'}")
    connections = ConnectionHandler({"default": database})
    with django_db_blocker.unblock():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone() == ("wal",)
        finally:
            connections.close_all()
