"""Payload builders: what a register becomes in Odoo."""

import uuid

import pytest

from odoo_sync.payloads import (
    build_pos_config_create_payload,
    build_pos_config_update_payload,
    pos_config_external_id,
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


def test_external_id_is_regsync_module_and_register_hex():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert pos_config_external_id(value) == ("regsync", "register_12345678123456781234567812345678")
    assert pos_config_external_id(str(value)) == pos_config_external_id(value)
    module, name = pos_config_external_id(uuid.uuid4())
    assert " " not in name and "." not in name and "." not in module
