"""Odoo companies: which ones a user may use, and what makes a call run in one (docs/odoo.md).

In a database with several companies, Odoo runs each call in the companies its
context names (`allowed_company_ids`; the first is the current company), and
its record rules hide every `pos.config` of any other company. A tenant bound to
a company therefore sends that context with every call, and its new configs name
the company in their values.
"""

from __future__ import annotations

from dataclasses import dataclass

# The models whose new records get the company in their values.
_COMPANY_VALUE_MODELS = ("pos.config",)
# How `load` takes a many2one by database id (odoo/addons/base/models/ir_fields.py).
LOAD_COMPANY_COLUMN = "company_id/.id"


@dataclass(frozen=True)
class Company:
    """A `res.company` the user may use: its id and name."""

    id: int
    name: str


@dataclass(frozen=True)
class UserCompanies:
    """The companies an Odoo user may use (`res.users.company_ids`), in Odoo's order,
    and its default company (`res.users.company_id`): where calls run without a company."""

    default_id: int
    companies: tuple[Company, ...]

    def get(self, company_id: int) -> Company | None:
        return next((c for c in self.companies if c.id == company_id), None)

    def allows(self, company_id: int) -> bool:
        return self.get(company_id) is not None

    @property
    def default(self) -> Company | None:
        return self.get(self.default_id)

    @property
    def several(self) -> bool:
        """True when the user may use more than one company (a company must be chosen)."""
        return len(self.companies) > 1


def check_company_id(company_id: int | None) -> int | None:
    """`company_id` as given (a positive int) or None; ValueError for anything else."""
    if company_id is None:
        return None
    if isinstance(company_id, bool) or not isinstance(company_id, int) or company_id < 1:
        raise ValueError(f"company_id must be a positive integer or None, not {company_id!r}")
    return company_id


def in_company(
    company_id: int, model: str, method: str, args: list, kwargs: dict
) -> tuple[list, dict]:
    """The call's `(args, kwargs)`, made to run in `company_id` (the caller's are not changed).

    The context names the company alone, whatever context the call passes:
    its other keys are kept. A `pos.config` `create` gets `company_id` in
    each value dict that has none; a `load` that may create records (it has
    an `id` column, or no `.id` one) gets a `company_id/.id` column unless it
    has a company column already. Odoo takes a new record's defaults from the
    current company, so the value alone would not do (docs/odoo.md).
    """
    args = list(args)
    kwargs = dict(kwargs)
    kwargs["context"] = {**(kwargs.get("context") or {}), "allowed_company_ids": [company_id]}
    if model not in _COMPANY_VALUE_MODELS:
        return args, kwargs
    if method == "create":
        _put(
            args,
            kwargs,
            0,
            "vals_list",
            _with_company_value(company_id, _get(args, kwargs, 0, "vals_list")),
        )
    elif method == "load":
        fields = _get(args, kwargs, 0, "fields")
        data = _get(args, kwargs, 1, "data")
        if isinstance(fields, list | tuple) and isinstance(data, list | tuple):
            fields, data = _with_company_column(company_id, list(fields), data)
            _put(args, kwargs, 0, "fields", fields)
            _put(args, kwargs, 1, "data", data)
    return args, kwargs


def _get(args: list, kwargs: dict, index: int, name: str):
    """Argument `index` of execute_kw's positional ones, else the keyword `name` (JSON-2 style)."""
    return args[index] if len(args) > index else kwargs.get(name)


def _put(args: list, kwargs: dict, index: int, name: str, value) -> None:
    if len(args) > index:
        args[index] = value
    elif name in kwargs:
        kwargs[name] = value


def _with_company_value(company_id: int, vals):
    if isinstance(vals, dict):
        return {"company_id": company_id, **vals}
    if isinstance(vals, list | tuple):
        return [{"company_id": company_id, **v} if isinstance(v, dict) else v for v in vals]
    return vals


def _with_company_column(company_id: int, fields: list, data) -> tuple[list, list]:
    named = any(f == "company_id" or str(f).startswith("company_id/") for f in fields)
    may_create = "id" in fields or ".id" not in fields
    if named or not may_create:
        return fields, list(data)
    rows = [[*row, str(company_id)] if isinstance(row, list | tuple) else row for row in data]
    return [*fields, LOAD_COMPANY_COLUMN], rows
