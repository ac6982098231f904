"""The audit trail refuses UPDATE and DELETE in the database itself, on PostgreSQL.

The ORM already refuses (``moderation.models.ModerationAction``: ``save`` of an existing
row, ``delete``, and its queryset's ``update``/``delete``); this trigger also refuses raw
SQL, a ``dbshell`` session, or any other client that bypasses the models. It raises
SQLSTATE 23001 (restrict_violation), which Django reports as an ``IntegrityError``.

It is a statement-level ``BEFORE UPDATE OR DELETE`` trigger: any such statement on the
table fails, even one that matches no row.

What it does not guard, deliberately:

* ``TRUNCATE``: Django's ``flush`` (and so every ``TransactionTestCase`` and
  pytest-django's ``transactional_db``) empties tables with ``TRUNCATE``; a trigger on it
  would break the test suite and ``manage.py flush``. Production should run as a role that
  is not the table's owner and has no ``TRUNCATE`` privilege on it.
* The table's owner or a superuser can drop or disable the trigger: a database can only
  protect a table from the roles it does not trust. Production's application role should
  not own the schema (``REVOKE UPDATE, DELETE, TRUNCATE ON moderation_moderationaction``
  from it if it does).

SQLite has no such trigger (a no-op there): its ``flush`` deletes rows with ``DELETE``,
which such a trigger would refuse, and the embedded default is a single-user deployment.
"""

from django.db import migrations

TABLE = "moderation_moderationaction"

FORWARD = f"""
CREATE OR REPLACE FUNCTION moderation_action_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the moderation audit trail is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER moderation_action_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_action_append_only();
"""

BACKWARD = f"""
DROP TRIGGER IF EXISTS moderation_action_append_only ON {TABLE};
DROP FUNCTION IF EXISTS moderation_action_append_only();
"""


class PostgresRunSQL(migrations.RunSQL):
    """``RunSQL`` that runs on PostgreSQL only (a no-op on SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]

    operations = [PostgresRunSQL(FORWARD, BACKWARD)]
