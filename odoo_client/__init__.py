"""Talking to one Odoo over its wire protocols, with no Django: the client, its error tree, URL rules.

The bottom of regsync: every app may use it, it uses none of them (checked by
import-linter, see pyproject.toml).
"""
