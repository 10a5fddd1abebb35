"""The state machine: one table (state, event) -> state, applied to a locked row and recorded."""

import pytest
from django.db import transaction

from registers.models import ErrorKind, RegisterEvent, SyncState
from registers.state import TRANSITIONS, Event, InvalidTransition, apply_event, apply_event_to
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

PC, PU, OK, ERR = (
    SyncState.PENDING_CREATE,
    SyncState.PENDING_UPDATE,
    SyncState.SYNCED,
    SyncState.SYNC_ERROR,
)


def test_the_table_is_the_designs_event_table():
    drawn = {
        (OK, Event.EDITED): PU,
        (PU, Event.EDITED): PU,
        (ERR, Event.EDITED): PU,
        (PC, Event.CREATE_LANDED): OK,
        (PU, Event.WRITE_LANDED): OK,
        (PC, Event.ATTEMPT_FAILED): PC,
        (PU, Event.ATTEMPT_FAILED): PU,
        (PC, Event.DEAD_LETTERED): ERR,
        (PU, Event.DEAD_LETTERED): ERR,
        (OK, Event.RELINKED): PC,
        (PU, Event.RELINKED): PC,
        (ERR, Event.RELINKED): PC,
        (OK, Event.SYNC_ENABLED): PC,
        (ERR, Event.OPERATOR_RETRY): PU,
        (PC, Event.OPERATOR_RETRY): PC,
        (PU, Event.OPERATOR_RETRY): PU,
        (ERR, Event.OPERATOR_RECREATE): PC,
        (ERR, Event.LINKED_BY_OPERATOR): PU,
        # Beyond DESIGN.md's table (issue 13, docs/architecture.md): the audit's fix and
        # an operator's "Create a new one in Odoo" for an ambiguous create.
        (OK, Event.DRIFT_FIXED): PU,
        (PU, Event.DRIFT_FIXED): PU,
        (ERR, Event.FORCED_CREATE): PC,
        # Issue 23: a create that took the config Odoo had (onboarding), recorded as a link,
        # and the audit's "Accept Odoo's value".
        (PC, Event.LINKED_EXISTING): OK,
        (OK, Event.ODOO_VALUE_ACCEPTED): OK,
        # Issue 21: a tenant moved to another Odoo looks an operator's "create a new one"
        # up again there (and an ambiguous create: ERR -> PC above).
        (PC, Event.RELINKED): PC,
    }
    assert {key: move.to for key, move in TRANSITIONS.items()} == drawn


def test_an_event_not_in_the_table_raises_and_writes_nothing():
    reg = PosConfigFactory(pushed=True)
    with pytest.raises(InvalidTransition), transaction.atomic():
        apply_event_to(reg.pk, Event.CREATE_LANDED, actor="sync", odoo_id=5)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED
    assert not RegisterEvent.objects.filter(register=reg).exists()


@pytest.mark.parametrize(
    ("factory", "event"),
    [
        ({"pushed": False}, Event.EDITED),  # no Odoo id: nothing to write back to
        ({"pushed": True}, Event.SYNC_ENABLED),  # already linked
        ({"pending_create": True}, Event.OPERATOR_RETRY),  # not failed yet
        ({"dead_update": True, "last_sync_error_kind": ErrorKind.MISSING}, Event.OPERATOR_RETRY),
    ],
)
def test_an_event_whose_precondition_fails_raises(factory, event):
    reg = PosConfigFactory(**factory)
    with pytest.raises(InvalidTransition, match="precondition"), transaction.atomic():
        apply_event_to(reg.pk, event, actor="sync")


def test_an_event_that_requeues_ends_the_claim_and_is_recorded_with_its_actor():
    reg = PosConfigFactory(pushed=True, sync_state=SyncState.PENDING_UPDATE)
    reg.claim_token = "7d4bd1fe-4b4f-4ab8-98a4-6b8d0bba2c11"
    reg.sync_retries = 3
    reg.save()
    apply_event_to(reg.pk, Event.EDITED, actor="alice")
    reg.refresh_from_db()
    assert (reg.claim_token, reg.claimed_until, reg.sync_retries) == (None, None, 0)
    event = RegisterEvent.objects.get(register=reg)
    assert (event.action, event.from_state, event.to_state, event.actor) == (
        Event.EDITED,
        PU,
        PU,
        "alice",
    )


def test_an_event_writes_only_its_own_columns():
    reg = PosConfigFactory(pending_create=True, name="Bar")
    with transaction.atomic():
        row = apply_event(
            type(reg).objects.select_for_update().get(pk=reg.pk),
            Event.CREATE_LANDED,
            actor="sync",
            odoo_id=42,
            name="Not a value this event carries",
        )
    row.refresh_from_db()
    assert (row.sync_state, row.odoo_pos_config_id, row.name) == (OK, 42, "Bar")


def test_the_external_id_is_the_regsync_module_and_the_registers_uuid():
    register = PosConfigFactory()
    module, name = register.odoo_external_id
    assert (module, name) == ("regsync", f"register_{register.uuid.hex}")
    assert " " not in name and "." not in name and "." not in module
