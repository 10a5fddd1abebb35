"""The sandbox's in-memory Odoo models and the exceptions Odoo raises from them.

Only what regsync touches: `pos.config`, `pos.session`, `ir.model.data` and
`res.users`, with the texts real Odoo 16.0-19.0 produce (see docs/odoo.md and
shared/odoo-api.md). Method signatures copy Odoo's, so binding errors read the
same over JSON-2.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from datetime import UTC, datetime

# --- exceptions, named and moduled like Odoo's so error bodies match --------


class UserError(Exception):
    __module__ = "odoo.exceptions"
    http_status = 422


class ValidationError(UserError):
    __module__ = "odoo.exceptions"


class RedirectWarning(UserError):
    __module__ = "odoo.exceptions"


class MissingError(UserError):
    __module__ = "odoo.exceptions"
    http_status = 404


class AccessError(UserError):
    __module__ = "odoo.exceptions"
    http_status = 403


class AccessDenied(UserError):
    __module__ = "odoo.exceptions"
    http_status = 403

    def __init__(self, message: str = "Access Denied"):
        super().__init__(message)


class SerializationFailure(Exception):
    __module__ = "psycopg2.errors"


class OperationalError(Exception):
    __module__ = "psycopg2"


class InterfaceError(Exception):
    __module__ = "psycopg2"


class PoolError(Exception):
    __module__ = "psycopg2.pool"


# How Odoo fails when it cannot reach (or loses) its PostgreSQL: the exception
# and the frames of the traceback it sends as fault 1 (JSON-2: a 500 naming it).
# Texts are libpq's and odoo/sql_db.py's; the first, libpq 14+, the second older.
_SQL_DB = "/usr/lib/python3/dist-packages/odoo/sql_db.py"
_PSYCOPG2 = "/usr/lib/python3/dist-packages/psycopg2/__init__.py"
_BORROW_FRAMES = (
    (_SQL_DB, 267, "__init__", "self._cnx = pool.borrow(dsn)"),
    (_SQL_DB, 676, "_locked", "return fun(self, *args, **kwargs)"),
)
_CONNECT_FRAMES = (
    *_BORROW_FRAMES,
    (_SQL_DB, 744, "borrow", "result = psycopg2.connect("),
    (
        _PSYCOPG2,
        122,
        "connect",
        "conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
    ),
)
DATABASE_LOST = {
    "refused": (
        OperationalError,
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?\n",
        _CONNECT_FRAMES,
    ),
    "could_not_connect": (
        OperationalError,
        "could not connect to server: Connection refused\n"
        '\tIs the server running on host "localhost" (127.0.0.1) and accepting\n'
        "\tTCP/IP connections on port 5432?\n",
        _CONNECT_FRAMES,
    ),
    "closed": (
        OperationalError,
        "server closed the connection unexpectedly\n"
        "\tThis probably means the server terminated abnormally\n"
        "\tbefore or while processing the request.\n",
        ((_SQL_DB, 332, "execute", "res = self._obj.execute(query, params)"),),
    ),
    "pool_full": (
        PoolError,
        "The Connection Pool Is Full",
        (
            *_BORROW_FRAMES,
            (_SQL_DB, 725, "borrow", "raise PoolError('The Connection Pool Is Full')"),
        ),
    ),
    "connection_closed": (
        InterfaceError,
        "connection already closed",
        ((_SQL_DB, 496, "rollback", "result = self._cnx.rollback()"),),
    ),
}


def database_lost(reason: str) -> Exception:
    """The exception Odoo raises when its database is gone, carrying its traceback frames."""
    try:
        cls, text, frames = DATABASE_LOST[reason]
    except KeyError:
        raise ValueError(f"unknown reason {reason!r}; one of {sorted(DATABASE_LOST)}") from None
    exc = cls(text)
    exc.odoo_frames = frames
    return exc


class HTTPError(Exception):
    """A werkzeug.exceptions.HTTPException look-alike."""

    code = 500
    title = "Internal Server Error"

    def __init__(self, description: str = ""):
        super().__init__(description)
        self.description = description


def _http_error(name: str, code: int, title: str) -> type[HTTPError]:
    cls = type(name, (HTTPError,), {"code": code, "title": title})
    cls.__module__ = "werkzeug.exceptions"
    return cls


BadRequest = _http_error("BadRequest", 400, "Bad Request")
Unauthorized = _http_error("Unauthorized", 401, "Unauthorized")
NotFound = _http_error("NotFound", 404, "Not Found")
UnprocessableEntity = _http_error("UnprocessableEntity", 422, "Unprocessable Entity")


def exception_name(exc: BaseException) -> str:
    """`module.Class`, as odoo.http.serialize_exception names it (builtins included)."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def exception_line(exc: BaseException) -> str:
    module = type(exc).__module__
    name = type(exc).__qualname__
    qualified = name if module == "builtins" else f"{module}.{name}"
    text = str(exc)
    return f"{qualified}: {text}" if text else qualified


def odoo_traceback(exc: BaseException, where: str = "odoo/service/model.py") -> str:
    """A traceback shaped like the one Odoo sends as fault 1 (ends with the error)."""
    base = "/usr/lib/python3/dist-packages/odoo"
    frames = [
        (f"{base}/http.py", 2137, "dispatch", "result = self.request.dispatch(rule, args)"),
        (f"{base}/addons/base/controllers/rpc.py", 150, "xmlrpc_2", "response = self._xmlrpc()"),
        (f"{base}/http.py", 368, "dispatch_rpc", "return dispatch(method, params)"),
        (f"{base}/service/model.py", 62, "dispatch", "res = execute_kw(db, uid, *params[3:])"),
        (f"{base}/service/model.py", 156, "retrying", "result = func()"),
        (f"{base}/{where}", 128, "call", "return method(*args, **kwargs)"),
    ]
    frames += list(getattr(exc, "odoo_frames", ()))
    lines = ["Traceback (most recent call last):"]
    for path, lineno, func, code in frames:
        lines.append(f'  File "{path}", line {lineno}, in {func}')
        lines.append(f"    {code}")
    lines.append(exception_line(exc))
    return "\n".join(lines) + "\n"


# --- helpers ----------------------------------------------------------------


def now_str() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


GROUP_LABELS = {
    "point_of_sale.group_pos_manager": "Point of Sale/Administrator",
    "base.group_erp_manager": "Administration/Access Rights",
}
_ACCESS_VERBS = {"read": "access", "create": "create", "write": "modify", "unlink": "delete"}


def acl_error(operation: str, description: str, model: str, group: str) -> AccessError:
    """ir.model.access's refusal when no group of the user grants `operation` on `model`."""
    return AccessError(
        f"You are not allowed to {_ACCESS_VERBS[operation]} '{description}' ({model}) records.\n\n"
        "This operation is allowed for the following groups:\n"
        f"\t- {GROUP_LABELS[group]}\n\n"
        "Contact your administrator to request access if necessary."
    )


def rule_error(env: Env, operation: str, description: str, model: str, companies) -> AccessError:
    """ir.rule `_make_access_error` for records a company rule hides (17.0-19.0).

    The text a user without Technical Features (base.group_no_one) gets; the
    rule's domain names `company_id`, so Odoo adds a hint from the records'
    companies (`_get_redirect_suggested_company`).
    """
    user = env.user
    text = (
        "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\n"
        f"Sorry, {user['name']} (id={user['id']}) doesn't have '{operation}' access to:\n"
        f"- {description} ({model})\n\n"
        "If you really, really need access, perhaps you can win over your friendly "
        "administrator with a batch of freshly baked cookies."
    )
    suggested = sorted(set(companies))
    if len(suggested) > 1:
        text += (
            "\n\nNote: this might be a multi-company issue. Switching company may help "
            "- in Odoo, not in real life!"
        )
    elif suggested and suggested[0] in user["company_ids"]:
        text += (
            "\n\nThis seems to be a multi-company issue, you might be able to access the "
            f"record by switching to the company: {env.company_name(suggested[0])}."
        )
    elif suggested:
        text += (
            "\n\nThis seems to be a multi-company issue, but you do not have access to the "
            "proper company to access the record anyhow."
        )
    return AccessError(text)


class NotNullViolation(Exception):
    """psycopg2.errors.NotNullViolation: what a NULL in a required column raises in a load."""

    __module__ = "psycopg2.errors"


def not_null_error(
    major: int, model_label: str, model: str, field_label: str, field: str
) -> ValidationError:
    """A NULL in a required column, as Odoo words it (its ValidationError around the SQL error)."""
    if major >= 19:
        # odoo/orm/models.py _sql_error_to_message_generic (19.0), behind the prefix of
        # odoo/service/model.py; observed on 19.0 over JSON-2 (shared/odoo-api.md).
        return ValidationError(
            "The operation cannot be completed: Missing required value for the field "
            f"'{field_label}' ({field}).\n"
            f"Model: '{model_label}' ({model})\n"
            "- create/update: a mandatory field is not set\n"
            "- delete: another model requires the record being deleted, you can archive it "
            "instead\n"
        )
    return ValidationError(
        f"The operation cannot be completed: Missing required value for the field "
        f"'{field_label}' ({field}).\n"
        "- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. "
        "If possible, archive it instead.\n\n"
        f"Model: {model_label} ({model})\nField: {field_label} ({field})"
    )


def pg_lower(text: str) -> str:
    """PostgreSQL's lower() under a glibc UTF-8 locale (en_US.UTF-8): towlower, one
    character at a time, the simple mapping (no casefold: "ß" stays "ß")."""
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def like_regex(pattern: str) -> re.Pattern:
    """PostgreSQL's LIKE pattern as a regex: `%` any run, `_` one character, `\\` escapes."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    if escaped:
        raise ValueError("LIKE pattern must not end with escape character")
    return re.compile("".join(out), re.DOTALL)


def like_pattern(op: str, value, *, lower=pg_lower) -> re.Pattern:
    """What Odoo 17-19 make of a like leaf's value (docs/odoo.md): `like`/`ilike` wrap
    it in `%...%` unescaped, `=like`/`=ilike` send it as given; ILIKE lowers both sides."""
    pattern = str(value) if op.startswith("=") else f"%{value}%"
    return like_regex(lower(pattern) if "ilike" in op else pattern)


def _like(op: str, value, current) -> bool:
    if current is False or current is None:
        return False  # NULL LIKE ... is not true
    text = pg_lower(str(current)) if "ilike" in op else str(current)
    return like_pattern(op, value).fullmatch(text) is not None


def _scalar(value):
    # many2one values read as [id, name] but compare as id
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], int):
        return value[0]
    return value


LIKES = ("like", "not like", "ilike", "not ilike", "=like", "=ilike")
OPERATORS = ("=", "!=", "in", "not in", *LIKES)
COMPARISONS = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def eval_leaf(model: str, leaf, record: Mapping, fields: Mapping) -> bool:
    if not isinstance(leaf, list | tuple) or len(leaf) != 3:
        raise ValueError(f"Invalid leaf {leaf!r}")
    field, op, value = leaf
    if field not in fields:
        raise ValueError(f"Invalid field {model}.{field} in leaf {tuple(leaf)!r}")
    if op not in OPERATORS and op not in COMPARISONS:
        raise ValueError(f"Invalid leaf {tuple(leaf)!r}")
    current = _scalar(record.get(field, False))
    if current is None:
        current = False
    if op in ("=", "!="):
        equal = current == value or (not current and value is False)
        return equal if op == "=" else not equal
    if op in ("in", "not in"):
        values = value if isinstance(value, list | tuple) else [value]
        found = current in values or (current is False and False in values)
        return found if op == "in" else not found
    if op in LIKES:
        hit = _like(op.removeprefix("not "), value, current)
        return hit if not op.startswith("not") else not hit  # NOT LIKE ... OR IS NULL
    if current is False:
        return False
    return COMPARISONS[op](current, value)


def eval_domain(model: str, domain, record: Mapping, fields: Mapping) -> bool:
    if not isinstance(domain, list | tuple):
        raise ValueError(f"Invalid domain {domain!r}")
    stack: list[bool] = []
    for element in reversed(list(domain)):
        if element == "&":
            a, b = stack.pop(), stack.pop()
            stack.append(a and b)
        elif element == "|":
            a, b = stack.pop(), stack.pop()
            stack.append(a or b)
        elif element == "!":
            stack.append(not stack.pop())
        else:
            stack.append(eval_leaf(model, element, record, fields))
    return all(stack)


def domain_predicate(model: str, domain, fields: Mapping):
    """`eval_domain` for one search, with a fast path for `|`-joined likes on one field.

    That domain is regsync's onboarding lookup (one `=ilike` per name of a
    batch): evaluated leaf by leaf it cost O(records x names) of Python per
    search, so the sandbox slowed down by itself as it filled (1.5 s at 10,000
    configs and 50 names). The fast path (one regex for every leaf) gives the
    same answer.
    """
    leaves = [el for el in domain] if isinstance(domain, list | tuple) else []
    terms = [el for el in leaves if el != "|"]
    fast = (
        len(terms) >= 2
        and leaves == ["|"] * (len(terms) - 1) + terms
        and all(
            isinstance(t, list | tuple)
            and len(t) == 3
            and t[1] in ("ilike", "=ilike")
            and t[0] == terms[0][0]
            for t in terms
        )
        and terms[0][0] in fields
    )
    if not fast:
        return lambda record: eval_domain(model, domain, record, fields)
    field_name = terms[0][0]
    either = re.compile(
        "|".join(f"(?:{like_pattern(op, value).pattern})" for _, op, value in terms), re.DOTALL
    )

    def any_like(record: Mapping) -> bool:
        value = _scalar(record.get(field_name, False))
        if value is False or value is None:
            return False
        return either.fullmatch(pg_lower(str(value))) is not None

    return any_like


def domain_fields(domain) -> set[str]:
    return {el[0] for el in domain or () if isinstance(el, list | tuple) and len(el) == 3}


# --- models -----------------------------------------------------------------


def api_model(func):
    func._api_model = True
    return func


UNAUTHORIZED_COMPANIES = "Access to unauthorized or invalid companies."


class Env:
    """What a method sees: the state (already locked), the user and the context.

    `company` and `companies` are Odoo's Environment properties (odoo/api.py in
    17.0 and 18.0, odoo/orm/environments.py in 19.0; docs/odoo.md): the context's
    `allowed_company_ids`, each of which must be one of the user's active
    companies, else AccessError; without it, the user's default company and
    all the user's companies. Like Odoo's, they are read only when something
    needs them (a record rule, a default), so a call that needs neither never
    fails on a bad context.
    """

    def __init__(self, state, uid: int, context: Mapping | None = None):
        self.state = state
        self.uid = uid
        self.context = dict(context or {})

    @property
    def user(self) -> dict:
        return self.state.tables["res.users"][self.uid]

    def _allowed_company_ids(self) -> list[int]:
        company_ids = self.context.get("allowed_company_ids") or []
        if company_ids and set(company_ids) - set(self.state.user_company_ids(self.uid)):
            raise AccessError(UNAUTHORIZED_COMPANIES)
        return list(company_ids)

    def check_companies(self) -> None:
        """Fail as reading `env.companies` would, on a bad `allowed_company_ids`."""
        self._allowed_company_ids()

    @property
    def company(self) -> int:
        """The current company: the first allowed one, else the user's default company."""
        company_ids = self._allowed_company_ids()
        return company_ids[0] if company_ids else self.user["company_id"]

    @property
    def companies(self) -> list[int]:
        """The companies record rules let through (`company_ids` in their domains)."""
        return self._allowed_company_ids() or self.state.user_company_ids(self.uid)

    def company_name(self, company_id: int) -> str:
        row = self.state.tables["res.company"].get(company_id)
        return row["name"] if row else str(company_id)

    def __getitem__(self, model: str) -> BaseModel:
        cls = MODELS.get(model)
        if cls is None:
            raise KeyError(model)
        return cls(self)


def _ids_named_by(domain: list) -> set | None:
    """The ids a one-term domain `[("id", "=" | "in", ...)]` limits a search to, else None."""
    if len(domain) != 1 or not isinstance(domain[0], list | tuple) or len(domain[0]) != 3:
        return None
    field, operator, value = domain[0]
    if field != "id":
        return None
    if operator == "=" and isinstance(value, int) and not isinstance(value, bool):
        return {value}
    if operator == "in" and isinstance(value, list | tuple):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return set(value)
    return None


class BaseModel:
    _name = ""
    _description = ""
    _table = ""
    _fields: dict[str, str] = {}  # name -> label
    _order_default = "id"

    def __init__(self, env: Env):
        self.env = env
        self.state = env.state

    # storage
    @property
    def table(self) -> dict[int, dict]:
        return self.state.tables[self._table]

    def _row(self, record_id: int) -> dict:
        return dict(self.table[record_id])

    def _check_fields(self, names) -> None:
        for name in names:
            if name not in self._fields:
                raise ValueError(f"Invalid field {name!r} on {self._name!r}")

    def _missing_error(self, ids) -> MissingError:
        if self.state.major <= 16:
            return MissingError(
                "One of the documents you are trying to access has been deleted, "
                "please try again after refreshing."
            )
        ids_repr = repr(tuple(ids))  # pos.config(999999,) as a recordset prints
        return MissingError(
            "Record does not exist or has been deleted.\n"
            f"(Record: {self._name}{ids_repr}, User: {self.env.uid})"
        )

    def _search_ids(self, domain, offset=0, limit=None, order=None) -> list[int]:
        self._check_read()
        domain = list(domain or [])
        use_active = (
            "active" in self._fields
            and self.env.context.get("active_test", True)
            and "active" not in domain_fields(domain)
        )
        named = _ids_named_by(domain)
        if named is None:
            rows = [self._row(i) for i in sorted(self.table)]
        else:  # the same answer, without reading every record (no latency of its own)
            rows = [self._row(i) for i in sorted(named) if i in self.table]
        result = []
        matches = domain_predicate(self._name, domain, self._fields)
        allowed = self._rule_filter()
        for row in rows:
            if use_active and not row.get("active"):
                continue
            if allowed is not None and not allowed(row):
                continue  # the record rules' domain is ANDed to the search's
            if matches(self._read_row(row)):
                result.append(row)
        order = (order or self._order_default).strip().lower()
        key, _, direction = order.partition(" ")
        if key in self._fields:
            result.sort(key=lambda r: self._read_row(r).get(key) or 0, reverse=direction == "desc")
        ids = [r["id"] for r in result]
        ids = ids[int(offset or 0) :]
        if limit:
            ids = ids[: int(limit)]
        return ids

    def _read_row(self, row: dict) -> dict:
        return {name: row.get(name, False) for name in self._fields}

    # public API (signatures as in Odoo)
    @api_model
    def search(self, domain, offset=0, limit=None, order=None):
        return self._search_ids(domain, offset, limit, order)

    @api_model
    def search_count(self, domain, limit=None):
        count = len(self._search_ids(domain))
        return min(count, int(limit)) if limit else count

    @api_model
    def search_read(
        self, domain=None, fields=None, offset=0, limit=None, order=None, **read_kwargs
    ):
        ids = self._search_ids(domain, offset, limit, order)
        return self._read(ids, fields)

    def read(self, ids, fields=None, load="_classic_read"):
        return self._read(ids, fields)

    @api_model
    def name_search(self, name="", domain=None, operator="ilike", limit=100):
        """`[[id, display_name], ...]` of the records whose name matches (record rules apply)."""
        domain = list(domain or [])
        if name:
            leaf = ["name", operator, name]
            domain = ["&", leaf, *domain] if domain else [leaf]
        ids = self._search_ids(domain, limit=limit)
        return [
            [i, self._read_row(self._row(i)).get("display_name") or self.table[i]["name"]]
            for i in ids
        ]

    def _read(self, ids, fields):
        self._check_read()
        self._check_rule("read", ids)
        fields = list(fields or self._fields)
        self._check_fields(fields)
        out = []
        for record_id in ids:
            if record_id in self.table:
                values = self._read_row(self._row(record_id))
                out.append({"id": record_id, **{f: values[f] for f in fields if f != "id"}})
        return out

    def get_metadata(self, ids):
        """odoo/models.py get_metadata (17.0, 18.0): the caller needs read access to
        the records only; their external ids are read with `ir.model.data` as sudo."""
        self._check_read()
        self._check_rule("read", ids)
        rows = [{"id": i} for i in ids if i in self.table]
        xml_data: dict[int, list[dict]] = {}
        imds = sorted(self.state.tables["ir.model.data"].values(), key=lambda r: -r["id"])
        for imd in imds:  # order='id DESC'
            if imd["model"] == self._name and imd["res_id"] in ids:
                xml_data.setdefault(imd["res_id"], []).append(
                    {"xmlid": imd["complete_name"], "noupdate": imd["noupdate"]}
                )
        for row in rows:
            stored = self.table[row["id"]]
            row.update({k: stored[k] for k in ("create_date", "write_date") if k in stored})
            main = xml_data.get(row["id"], [{}])[-1]
            row["xmlid"] = main.get("xmlid", False)
            row["noupdate"] = main.get("noupdate", False)
            row["xmlids"] = xml_data.get(row["id"], [])[::-1]
        return rows

    def _check_read(self) -> None:
        """Read access (ir.model.access); every model here but ir.model.data allows it."""

    def _rule_filter(self):
        """This model's record rules as a predicate on stored rows, or None (no rule).

        Evaluating a rule whose domain names `company_ids` reads `env.companies`,
        so a bad `allowed_company_ids` fails there, as in Odoo.
        """
        return None

    def _company_of(self, row: dict) -> int | None:
        return None

    def _check_rule(self, operation: str, ids) -> None:
        """ir.rule's check on existing records (missing ones are left to the caller):
        AccessError naming the operation when a rule hides any of them."""
        allowed = self._rule_filter()
        if allowed is None:
            return
        forbidden = [self.table[i] for i in ids if i in self.table and not allowed(self.table[i])]
        if forbidden:
            companies = [self._company_of(row) for row in forbidden[:6]]
            raise rule_error(
                self.env, operation, self._description, self._name, [c for c in companies if c]
            )

    PUBLIC = ("search", "search_count", "search_read", "read", "get_metadata", "name_search")


class PosConfig(BaseModel):
    _name = "pos.config"
    _description = "Point of Sale Configuration"
    _table = "pos.config"
    _fields = {
        "id": "ID",
        "name": "Point of Sale",
        "active": "Active",
        "display_name": "Display Name",
        "company_id": "Company",
        "currency_id": "Currency",
        "current_session_id": "Current Session",
        "current_session_state": "Current Session State",
        "has_active_session": "Has Active Session",
        "session_ids": "Sessions",
        "create_date": "Created on",
        "write_date": "Last Updated on",
    }
    PUBLIC = (*BaseModel.PUBLIC, "create", "write", "unlink", "load")

    def _read_row(self, row):
        open_session = self.state.open_session_for(row["id"])
        sessions = [
            s["id"]
            for s in self.state.tables["pos.session"].values()
            if s["config_id"] == row["id"]
        ]
        return {
            "id": row["id"],
            "name": row["name"],
            "active": row["active"],
            "display_name": row["name"],
            "company_id": [row["company_id"], self.env.company_name(row["company_id"])],
            "currency_id": [1, "USD"],
            "current_session_id": (
                [open_session["id"], open_session["name"]] if open_session else False
            ),
            "current_session_state": open_session["state"] if open_session else False,
            "has_active_session": bool(open_session),
            "session_ids": sessions,
            "create_date": row["create_date"],
            "write_date": row["write_date"],
        }

    def _check_rights(self, operation: str) -> None:
        if not self.state.has_group("point_of_sale.group_pos_manager"):
            raise acl_error(
                operation, self._description, self._name, "point_of_sale.group_pos_manager"
            )

    def _rule_filter(self):
        # point_of_sale_security.xml `rule_pos_config_multi_company` (global):
        # [('company_id', 'in', company_ids)]
        companies = set(self.env.companies)
        return lambda row: row["company_id"] in companies

    def _company_of(self, row: dict) -> int | None:
        return row["company_id"]

    def _has_payment_methods(self, company_id: int) -> bool:
        """Whether a config made in `company_id` gets payment methods by default.

        `_default_payment_methods` searches the env's company: 17.0 finds some
        only where a chart of accounts made them; 18.0 and 19.0 create a journal
        and methods when there are none (`_create_journal_and_payment_methods`).
        """
        company = self.state.tables["res.company"].get(company_id)
        return self.state.major >= 18 or bool(company and company["accounting"])

    def _payment_methods_error(self, name: str) -> ValidationError:
        # pos.config `_check_company_payment` (@api.constrains('company_id', 'payment_method_ids'))
        return ValidationError(
            f"The payment methods for the point of sale {name} must belong to its company."
        )

    def _company_for_create(self, vals: Mapping) -> int:
        """The new config's company, refused as Odoo's create refuses it.

        The defaults (journal, payment methods, warehouse) come from the env's
        company whatever `company_id` says; the constraints run before the record
        rule's check of the new record (`_create`), `_check_company` after both.
        """
        env_company = self.env.company  # the default: may raise on a bad context
        if "company_id" in vals and not vals["company_id"]:
            raise not_null_error(
                self.state.major, self._description, self._name, "Company", "company_id"
            )
        company = int(vals.get("company_id") or env_company)
        if company != env_company and self._has_payment_methods(env_company):
            raise self._payment_methods_error(str(vals.get("name")))
        if company not in self.env.companies:
            raise rule_error(self.env, "create", self._description, self._name, [company])
        return company

    def _check_vals(self, vals: Mapping, *, creating: bool) -> None:
        if not isinstance(vals, Mapping):
            raise TypeError(f"vals must be a dict, not {type(vals).__name__}")
        self._check_fields(vals)
        if creating and "name" not in vals and self.state.major < 19:
            # pos_config.py create() reads vals['name'] before the ORM checks it
            raise KeyError("name")
        if ("name" in vals or creating) and not vals.get("name"):
            raise not_null_error(
                self.state.major, self._description, self._name, "Point of Sale", "name"
            )

    def _create_one(self, vals: Mapping) -> int:
        self._check_vals(vals, creating=True)
        company = self._company_for_create(vals)
        record_id = self.state.next_id("pos.config")
        stamp = now_str()
        self.table[record_id] = {
            "id": record_id,
            "name": str(vals["name"]),
            "active": bool(vals.get("active", True)),
            "company_id": company,
            "create_date": stamp,
            "write_date": stamp,
        }
        self.state.record_mutation(
            record_id, "create", str(vals["name"]), bool(vals.get("active", True))
        )
        return record_id

    @api_model
    def create(self, vals_list):
        self._check_rights("create")
        single = isinstance(vals_list, Mapping)
        items = [vals_list] if single else list(vals_list)
        ids = [self._create_one(vals) for vals in items]
        return Created(ids, single)

    def _write_checks(self, ids, vals) -> None:
        self._check_rule("write", ids)
        missing = [i for i in ids if i not in self.table]
        if missing:
            raise self._missing_error(missing)
        self._check_vals(vals, creating=False)
        if "company_id" in vals:
            if not vals["company_id"]:
                raise not_null_error(
                    self.state.major, self._description, self._name, "Company", "company_id"
                )
            for record_id in ids:
                row = self.table[record_id]
                moved = int(vals["company_id"]) != row["company_id"]
                if moved and self._has_payment_methods(row["company_id"]):
                    raise self._payment_methods_error(row["name"])
        if self.state.major >= 19 and "active" in vals and not vals["active"]:
            if any(self.state.open_session_for(i) for i in ids):
                raise UserError(
                    "Unable to modify this PoS Configuration because you can't modify "
                    "Active while a session is open."
                )

    def write(self, ids, vals):
        self._check_rights("write")
        self._write(ids, vals, via="write")
        return True

    def _write(self, ids, vals, *, via: str) -> None:
        self._write_checks(ids, vals)
        for record_id in ids:
            row = dict(self.table[record_id])  # a new dict: snapshots share the old one
            if "name" in vals:
                row["name"] = str(vals["name"])
            if "active" in vals:
                row["active"] = bool(vals["active"])
            if "company_id" in vals:
                row["company_id"] = int(vals["company_id"])
            row["write_date"] = now_str()
            self.table[record_id] = row
            self.state.record_mutation(record_id, via, row["name"], row["active"])

    def unlink(self, ids):
        self._check_rights("unlink")
        self._check_rule("unlink", ids)
        missing = [i for i in ids if i not in self.table]
        if missing:
            raise self._missing_error(missing)
        if any(self.state.config_had_session(i) for i in ids):
            raise ValidationError(
                "The operation cannot be completed: another model requires the record being "
                "deleted. If possible, archive it instead.\n\n"
                "Model: Point of Sale Session (pos.session), Constraint: pos_session_config_id_fkey"
            )
        for record_id in ids:
            self.state.delete_pos_config(record_id)
        return True

    # Many2one columns given by database id (`company_id/.id`), as odoo/addons/base/
    # models/ir_fields.py `db_id_for` reads them: the id must be found by a search.
    _LOAD_BY_DB_ID = {"company_id/.id": "company_id"}

    def _company_by_db_id(self, raw) -> int | None:
        try:
            company_id = int(raw)
        except (TypeError, ValueError):
            return None
        found = self.env["res.company"]._search_ids([("id", "=", company_id)])
        return company_id if found else None

    @api_model
    def load(self, fields, data):
        """BaseModel.load as odoo/models.py has it in 17.0 and 18.0 (see docs/odoo.md).

        One savepoint around everything; all rows go to one `_load_records`
        call, and if that raises, each row is tried again alone in its own
        savepoint so that every bad row gets its own message. Any error
        message rolls the whole load back and answers `ids: False`.
        """
        self._check_rights("create")
        fields = list(fields)
        for name in fields:
            if name not in ("id", ".id", *self._LOAD_BY_DB_ID) and name not in self._fields:
                raise KeyError(name)
        start = self.state.snapshot()
        messages: list[dict] = []
        batch = [self._convert_row(index, row, fields, messages) for index, row in enumerate(data)]
        ids: list[int] | bool = []
        try:
            ids = self._load_records(batch)
        except Exception as exc:  # noqa: BLE001 - as load()'s flush(): retry row by row
            self.state.restore(start)
            ids = self._load_one_by_one(batch, exc, messages)
        if any(msg["type"] == "error" for msg in messages):
            self.state.restore(start)
            ids = False
        return {"ids": ids, "messages": messages, "nextrow": 0}

    def _convert_row(self, index: int, row, fields, messages: list[dict]) -> dict:
        """_extract_records + _convert_records for one single-line row."""
        info = {"rows": {"from": index, "to": index}, "record": index}
        cells = dict(zip(fields, row, strict=False))
        xid = str(cells.get("id") or "")
        dbid = False
        if cells.get(".id"):
            try:
                dbid = int(cells[".id"])
            except ValueError:
                dbid = cells[".id"]
            # a plain search: active_test applies, so an archived record is "unknown"
            if dbid not in self._search_ids([("id", "=", dbid)]):
                messages.append(
                    {
                        **info,
                        "type": "error",
                        "field": ".id",
                        "message": f"Unknown database identifier '{dbid}'",
                    }
                )
                dbid = False
        vals: dict = {}
        for name, raw in cells.items():
            if name in ("id", ".id"):
                continue  # REFERENCING_FIELDS: never a value
            if name in self._LOAD_BY_DB_ID:
                field = self._LOAD_BY_DB_ID[name]
                company = self._company_by_db_id(raw)
                if company is None:
                    messages.append(
                        {
                            **info,
                            "type": "error",
                            "field": field,
                            "message": f"No matching record found for database id '{raw}' "
                            f"in field '{self._fields[field]}'",
                        }
                    )
                else:
                    vals[field] = company
            elif name == "active":
                vals["active"] = str(raw).strip().lower() not in ("", "0", "false", "no")
            else:
                vals[name] = raw or False
        if xid and "." not in xid:
            xid = f"__import__.{xid}"
        # load(): `if xid: ... elif id: record['id'] = id`, so .id counts only without id
        return {"xml_id": xid, "id": False if xid else dbid, "values": vals, "info": info}

    def _load_one_by_one(self, batch: list[dict], batch_error: Exception, messages) -> list[int]:
        global_error = None
        if isinstance(batch_error, UserError) and batch and self.state.major >= 17:
            global_error = {**batch[0]["info"], "type": "error", "message": str(batch_error)}
        ids: list[int] = []
        errors = 0
        for i, data in enumerate(batch, 1):
            savepoint = self.state.snapshot()
            try:
                ids.extend(self._load_records([data]))
            except Exception as exc:  # noqa: BLE001 - each row gets its message
                self.state.restore(savepoint)
                messages.append(self._load_error(data["info"], exc))
                errors += 1
            if errors >= 10 and errors >= i / 10:
                messages.append(
                    {
                        "type": "warning",
                        "message": "Found more than 10 errors and more than one error per 10 "
                        "records, interrupted to avoid showing too many errors.",
                    }
                )
                break
        if errors and global_error and global_error not in messages:
            # "If we cannot create the records 1 by 1, we display the error raised
            # when we created the records simultaneously": with the FIRST row's info
            messages.insert(0, global_error)
        return ids

    @staticmethod
    def _load_error(info: dict, exc: Exception) -> dict:
        if isinstance(exc, NotNullViolation):
            return {**info, "type": "error", "message": str(exc), "field": "name"}
        if isinstance(exc, UserError):
            return {**info, "type": "error", "message": str(exc)}
        return {
            **info,
            "type": "error",
            "message": f"Unknown error during import: {type(exc)}: {exc}",
            "moreinfo": "Resolve other errors first",
        }

    def _load_records(self, batch: list[dict]) -> list[int]:
        """BaseModel._load_records: existing xmlids are updated (first), the rest
        created, then every xmlid is written as sudo (ir.model.data._update_xmlids)."""
        to_update: list[dict] = []
        to_create: list[dict] = []
        for data in batch:
            xid = data["xml_id"]
            if not xid:
                if data["id"]:
                    data["record"] = data["id"]
                    to_update.append(data)
                else:
                    to_create.append(data)
                continue
            module, _, name = xid.partition(".")
            row = self.state.find_xmlid(module, name)
            if row is None:
                to_create.append(data)
                continue
            if row["model"] != self._name:
                raise ValidationError(
                    f"For external id {xid} when trying to create/update a record of model "
                    f"{self._name} found record of different model {row['model']} ({row['id']})"
                )
            if row["res_id"] in self.table:
                data["record"] = row["res_id"]
                to_update.append(data)
            else:  # the xmlid's record was deleted: drop the xmlid, create anew
                del self.state.tables["ir.model.data"][row["id"]]
                to_create.append(data)
        for data in to_update:
            self._check_rights("write")
            self._write([data["record"]], data["values"], via="load")
        for data in to_create:
            vals = data["values"]
            if "name" in vals and not vals["name"]:
                # the NOT NULL column refuses it (psycopg2.errors.NotNullViolation)
                raise NotNullViolation(
                    "Missing required value for the field 'Point of Sale' (name)"
                )
            data["record"] = self._create_one(vals)
        for data in batch:
            if data["xml_id"]:
                module, _, name = data["xml_id"].partition(".")
                self.state.set_xmlid(module, name, self._name, data["record"])
        return [data["record"] for data in batch]


class Created(list):
    """create()'s ids, and whether one dict was passed (XML-RPC then returns an int)."""

    def __init__(self, ids, single: bool):
        super().__init__(ids)
        self.single = single


class PosSession(BaseModel):
    _name = "pos.session"
    _description = "Point of Sale Session"
    _table = "pos.session"
    _fields = {"id": "ID", "name": "Session ID", "config_id": "Point of Sale", "state": "Status"}
    _order_default = "id desc"
    PUBLIC = (*BaseModel.PUBLIC, "create", "write")

    def _rule_filter(self):
        # point_of_sale_security.xml `rule_pos_session_multi_company`:
        # [('config_id.company_id', 'in', company_ids)]
        companies = set(self.env.companies)
        return lambda row: self._company_of(row) in companies

    def _company_of(self, row: dict) -> int | None:
        config = self.state.tables["pos.config"].get(row["config_id"])
        return config["company_id"] if config else None

    def _read_row(self, row):
        config = self.state.tables["pos.config"].get(row["config_id"])
        return {
            "id": row["id"],
            "name": row["name"],
            "config_id": [row["config_id"], config["name"]] if config else False,
            "state": row["state"],
        }

    @api_model
    def create(self, vals_list):
        single = isinstance(vals_list, Mapping)
        items = [vals_list] if single else list(vals_list)
        ids = [self.state.open_session(int(vals["config_id"])) for vals in items]
        return Created(ids, single)

    def write(self, ids, vals):
        missing = [i for i in ids if i not in self.table]
        if missing:
            raise self._missing_error(missing)
        for record_id in ids:
            if "state" in vals:
                self.table[record_id] = {**self.table[record_id], "state": vals["state"]}
        return True


class IrModelData(BaseModel):
    """base's ir.model.access.csv (17.0, 18.0, 19.0-based): `access_ir_model_data_user`
    gives base.group_user 0,0,0,0 and only base.group_erp_manager (Access Rights)
    has 1,1,1,1, so Point of Sale / Administrator alone can neither read nor create."""

    _name = "ir.model.data"
    _description = "Model Data"
    _table = "ir.model.data"
    _fields = {
        "id": "ID",
        "module": "Module",
        "name": "External Identifier",
        "model": "Model Name",
        "res_id": "Record ID",
        "complete_name": "Complete ID",
        "noupdate": "Non Updatable",
    }
    PUBLIC = (*BaseModel.PUBLIC, "create")

    def _check_acl(self, operation: str) -> None:
        if not self.state.has_group("base.group_erp_manager"):
            raise acl_error(operation, self._description, self._name, "base.group_erp_manager")

    def _check_read(self) -> None:
        self._check_acl("read")

    @api_model
    def create(self, vals_list):
        self._check_acl("create")
        single = isinstance(vals_list, Mapping)
        items = [vals_list] if single else list(vals_list)
        ids = []
        for vals in items:
            self._check_fields(vals)
            module, name = str(vals.get("module") or ""), str(vals.get("name") or "")
            if not name or not vals.get("model"):
                field = "name" if not name else "model"
                raise not_null_error(
                    self.state.major, self._description, self._name, self._fields[field], field
                )
            if self.state.find_xmlid(module, name) is not None:
                # ir_model_data_module_name_uniq_index, as odoo/service/model.py
                # turns the IntegrityError into a ValidationError
                raise ValidationError(
                    "The operation cannot be completed: duplicate key value violates unique "
                    'constraint "ir_model_data_module_name_uniq_index"\n'
                    f"DETAIL:  Key (module, name)=({module}, {name}) already exists.\n"
                )
            ids.append(
                self.state.set_xmlid(module, name, str(vals["model"]), int(vals.get("res_id") or 0))
            )
        return Created(ids, single)


class ResCompany(BaseModel):
    """base's res.company: the companies a record rule lets a user see
    (`res_company_rule_employee`: [('id', 'in', company_ids)]; Access Rights see all)."""

    _name = "res.company"
    _description = "Companies"
    _table = "res.company"
    _fields = {"id": "ID", "name": "Company Name", "active": "Active"}
    _order_default = "name"

    def _rule_filter(self):
        companies = set(self.env.companies)  # evaluated for every group's rule
        if self.state.has_group("base.group_erp_manager"):
            return None  # res_company_rule_erp_manager: [(1, '=', 1)], ORed
        return lambda row: row["id"] in companies

    def _company_of(self, row: dict) -> int | None:
        return row["id"]


class ResUsers(BaseModel):
    _name = "res.users"
    _description = "User"
    _table = "res.users"
    _fields = {
        "id": "ID",
        "login": "Login",
        "name": "Name",
        "active": "Active",
        "company_id": "Company",
        "company_ids": "Companies",
    }
    PUBLIC = (*BaseModel.PUBLIC, "context_get")

    def _rule_filter(self):
        # res_users_rule: ['|', ('share', '=', False), ('company_ids', 'in', company_ids)];
        # an internal user always passes, but the domain is still evaluated.
        self.env.check_companies()
        return None

    def _read_row(self, row: dict) -> dict:
        return {
            **super()._read_row(row),
            "company_id": [row["company_id"], self.env.company_name(row["company_id"])],
            # a many2many read drops archived companies (active_test), in res.company's order
            "company_ids": self.state.user_company_ids(row["id"]),
        }

    @api_model
    def context_get(self):
        return {"lang": "en_US", "tz": "Europe/Brussels", "uid": self.env.uid}


MODELS: dict[str, type[BaseModel]] = {
    cls._name: cls for cls in (PosConfig, PosSession, IrModelData, ResCompany, ResUsers)
}


def get_public_method(model: BaseModel, method: str):
    """Odoo's odoo.service.model.get_public_method: private is 403, unknown 404."""
    if method.startswith("_"):
        raise AccessError(
            f"Private methods (such as '{model._name}.{method}') cannot be called remotely."
        )
    if method not in model.PUBLIC:
        raise AttributeError(f"The method '{model._name}.{method}' does not exist")
    return getattr(model, method)


def is_api_model(func) -> bool:
    return getattr(func, "_api_model", False)


def bind(func, args, kwargs) -> inspect.BoundArguments:
    """Bind like Odoo does, raising TypeError with Python's own wording."""
    return inspect.signature(func).bind(*args, **kwargs)
