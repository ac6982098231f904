"""The audit trail (``ModerationAction``) only grows.

Through the ORM: saving an existing row, deleting one, and the queryset's ``update()`` and
``delete()`` are refused (``AppendOnlyViolation``, an ``IntegrityError``). On PostgreSQL a
trigger (migration ``moderation.0002_audit_trail_append_only``) refuses any ``UPDATE`` or
``DELETE`` whoever issues it, raw SQL included; ``TRUNCATE`` is left to the database's
privileges (the test suite's flush uses it). Every action records who, what, on what,
under which rule, why, before → after and when; what points at the trail cannot take it
away (a deleted portrait, an account with actions to its name).
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from moderation import services
from moderation.models import AppendOnlyViolation, ModerationAction
from portraits.models import Portrait
from tests.moderation.decisions import moderator_make, quokka, reported, rule_make

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
REASON = "Spam, forty times over."
TABLE = ModerationAction._meta.db_table


@pytest.fixture
def mod(make_user):
    return moderator_make(make_user)


@pytest.fixture
def rule(db):
    return rule_make("No spam")


@pytest.fixture
def action(alice, mod, rule):
    return services.portrait_hide(moderator=mod, portrait=quokka(alice), rule=rule, reason=REASON)


def _unchanged(action: ModerationAction) -> None:
    row = ModerationAction.objects.get(pk=action.pk)
    assert (row.kind, row.reason, row.moderator_id, row.before, row.after) == (
        A.HIDE,
        REASON,
        action.moderator_id,
        action.before,
        action.after,
    )


def test_saving_an_existing_action_again_is_refused(action):
    action.reason = "Rewritten history."
    with pytest.raises(AppendOnlyViolation):
        action.save()
    with pytest.raises(AppendOnlyViolation):
        action.save(update_fields=["reason"])
    _unchanged(action)


def test_deleting_an_action_is_refused(action):
    with pytest.raises(AppendOnlyViolation):
        action.delete()
    with pytest.raises(AppendOnlyViolation):
        ModerationAction.objects.filter(pk=action.pk).delete()
    with pytest.raises(AppendOnlyViolation):
        ModerationAction.objects.all().delete()
    _unchanged(action)


def test_bulk_updating_actions_is_refused(action):
    with pytest.raises(AppendOnlyViolation):
        ModerationAction.objects.filter(pk=action.pk).update(reason="Rewritten.")
    with pytest.raises(AppendOnlyViolation):
        ModerationAction.objects.update(moderator=None)
    with pytest.raises(AppendOnlyViolation):
        ModerationAction.objects.bulk_update([action], ["reason"])
    _unchanged(action)


def test_the_refusal_is_an_integrity_error_like_the_databases():
    assert issubclass(AppendOnlyViolation, IntegrityError)


def test_a_new_action_with_an_explicit_id_is_inserted_never_overwrites(action, mod, rule):
    twin = ModerationAction(pk=action.pk, kind=A.WARN, moderator=mod, rule=rule, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    _unchanged(action)


@pytest.mark.postgres
def test_raw_sql_update_is_refused_by_the_postgresql_trigger(action):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {TABLE} SET reason = %s, moderator_id = NULL WHERE id = %s",
            ["Rewritten history.", action.pk],
        )
    _unchanged(action)


@pytest.mark.postgres
def test_raw_sql_delete_is_refused_by_the_postgresql_trigger(action):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [action.pk])
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {TABLE}")
    _unchanged(action)


@pytest.mark.postgres
def test_raw_sql_insert_is_allowed_the_trail_grows(action, mod):
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (kind, moderator_id, reason, before, after, created_at)"
            " VALUES ('warn', %s, 'raw', '{}', '{}', now())",
            [mod.pk],
        )
    assert ModerationAction.objects.count() == 2


@pytest.mark.postgres
def test_the_trigger_guards_update_and_delete_statements():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
            " WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal",
            [TABLE],
        )
        rows = cursor.fetchall()
    assert [name for name, _ in rows] == ["moderation_action_append_only"]
    definition = rows[0][1]
    assert "BEFORE DELETE OR UPDATE" in definition and "FOR EACH STATEMENT" in definition


def test_every_action_records_who_what_target_rule_reason_and_when(alice, bob, mod, rule):
    portrait = quokka(alice)
    case = reported(reporters=[bob], rule=rule, portrait=portrait)
    services.portrait_rate(
        moderator=mod, portrait=portrait, rating="mature", rule=rule, reason="Nudity."
    )
    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    services.portrait_restore(moderator=mod, portrait=portrait, rule=rule, reason="Fine.")
    services.case_dismiss(
        moderator=mod,
        case=reported(reporters=[bob], rule=rule, user=alice),
        rule=rule,
        reason="Fine.",
    )
    services.member_warn(moderator=mod, user=alice, rule=rule, reason="Careful.")
    services.member_suspend(moderator=mod, user=alice, rule=rule, reason="A week off.")
    services.member_suspension_lift(moderator=mod, user=alice, rule=rule, reason="Early.")

    trail = list(ModerationAction.objects.order_by("id"))
    assert [a.kind for a in trail] == [
        A.MATURE,
        A.HIDE,
        A.RESTORE,
        A.DISMISS,
        A.WARN,
        A.SUSPEND,
        A.LIFT,
    ]
    for entry in trail:
        assert entry.moderator == mod and entry.rule == rule and entry.reason
        assert entry.target_user_id == alice.pk
        assert entry.created_at is not None
        assert entry.before != entry.after
    assert [a.target_portrait_id for a in trail[:3]] == [portrait.pk] * 3
    case.refresh_from_db()
    assert case.status == "closed"  # the first decision on the portrait decided its report
    assert Portrait.objects.get(pk=portrait.pk).rating == "mature"


def test_a_deleted_portrait_keeps_its_history(alice, mod, rule, action):
    portrait_id = action.target_portrait_id
    Portrait.objects.filter(pk=portrait_id).delete()

    kept = ModerationAction.objects.get(pk=action.pk)
    assert kept.target_portrait_id == portrait_id and kept.target_user_id == alice.pk


def test_an_account_with_actions_to_its_name_cannot_be_deleted(action, mod):
    with pytest.raises(ProtectedError), transaction.atomic():
        mod.delete()
    assert ModerationAction.objects.filter(moderator=mod).count() == 1


def test_a_cited_rule_cannot_be_deleted(action, rule):
    with pytest.raises(ProtectedError), transaction.atomic():
        rule.delete()
