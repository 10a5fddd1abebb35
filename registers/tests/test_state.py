"""The transition table: every move the design draws is allowed, nothing else."""

import pytest
from django.db import transaction

from registers.models import SyncState
from registers.state import ALLOWED_TRANSITIONS, InvalidTransition, transition
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db


def test_design_diagram_moves_are_all_allowed():
    s = SyncState
    diagram = {
        (s.PENDING_CREATE, s.SYNCED),
        (s.PENDING_CREATE, s.PENDING_UPDATE),
        (s.SYNCED, s.PENDING_UPDATE),
        (s.PENDING_UPDATE, s.SYNCED),
        (s.PENDING_UPDATE, s.PENDING_UPDATE),
        (s.PENDING_CREATE, s.PENDING_CREATE),
        (s.PENDING_CREATE, s.SYNC_ERROR),
        (s.PENDING_UPDATE, s.SYNC_ERROR),
        (s.SYNC_ERROR, s.PENDING_UPDATE),
    }
    assert diagram <= ALLOWED_TRANSITIONS


def test_synced_register_cannot_jump_to_sync_error():
    reg = PosConfigFactory(pushed=True)
    with pytest.raises(InvalidTransition), transaction.atomic():
        transition(reg, SyncState.SYNC_ERROR, action="bogus")
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED


def test_guard_that_refuses_writes_nothing():
    reg = PosConfigFactory(pending_create=True)
    assert transition(reg, SyncState.SYNCED, action="x", guard=lambda row: False) is None
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.PENDING_CREATE
