"""Payload builders: what a register becomes in Odoo."""

import pytest

from odoo_sync.payloads import (
    build_pos_config_create_payload,
    build_pos_config_update_payload,
)


def test_create_payload_is_live_name_and_active():
    assert build_pos_config_create_payload(name="Bar") == {"name": "Bar", "active": True}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "Bar"}, {"name": "Bar"}),
        ({"active": False}, {"active": False}),
        ({"active": True}, {"active": True}),
        ({"name": "Bar", "active": False}, {"name": "Bar", "active": False}),
        ({}, {}),
        ({"name": None, "active": None}, {}),
        ({"name": ""}, {}),
        ({"name": "   "}, {}),
        ({"name": " \t", "active": True}, {"active": True}),
    ],
    ids=[
        "name-only",
        "inactive-only",
        "active-only",
        "both",
        "neither",
        "nones",
        "empty-name",
        "blank-name",
        "blank-name-with-active",
    ],
)
def test_update_payload_keeps_only_non_empty_name_and_active(kwargs, expected):
    assert build_pos_config_update_payload(**kwargs) == expected


def test_update_payload_keeps_name_as_given_when_not_blank():
    assert build_pos_config_update_payload(name=" Bar ") == {"name": " Bar "}
