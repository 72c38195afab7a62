"""Reading policy files: YAML without aliases, anchors or tags, and errors that name the line.

Problems that validation cannot locate (keys, version, rule ids and kinds) are found on the
YAML nodes first; validation errors are then mapped back to the node they are about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pytest_agentops._util import UnsafeYaml, refuse_unsafe_yaml
from pytest_agentops.errors import PolicyError
from pytest_agentops.trajectory.model import SCHEMA_VERSION

from .conditions import _a, _suggest, _yaml_value
from .rules import _KIND_OF_KEY, _KINDS_TEXT, Policy, _rule_kinds

# ---- loading ---------------------------------------------------------------------------------

_TOP_LEVEL_KEYS = ("schema_version", "name", "description", "rules")
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_MAX_DEPTH = 50


def load_policy(path: str | Path) -> Policy:
    """Read a policy file; any problem raises one :class:`PolicyError` naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not a text file (a policy is UTF-8 YAML)") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror or exc}") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse policy YAML; ``source`` names it in errors and becomes :attr:`Policy.source`."""
    root, data = _read_yaml(text, source)
    _check_shape(root, data, source)
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _explain(exc, root, data, source) from None


def _error(source: str, at: Any, message: str, rule: str | None = None) -> PolicyError:
    """``source:line: rule 'id': message``; ``at`` is a YAML node, event or mark (or None)."""
    mark = getattr(at, "start_mark", at)
    line = f":{mark.line + 1}" if mark is not None else ""
    in_rule = f"rule {rule!r}: " if rule is not None else ""
    return PolicyError(f"{source}{line}: {in_rule}{message}")


def _read_yaml(text: str, source: str) -> tuple[yaml.MappingNode, dict[Any, Any]]:
    """Parse with PyYAML's safe loader, after refusing aliases, anchors, tags and deep nesting.

    Aliases are refused before anything is built, so a "billion laughs" file costs nothing.
    libyaml reads the file when it is installed (linear and fast: 8,000 rules in well under a
    second); a file it rejects is read again by the Python parser, whose messages say more.
    """
    try:
        try:
            root, data = _compose(text, source, fast=True)
        except yaml.YAMLError:
            root, data = _compose(text, source, fast=False)
    except UnsafeYaml as exc:
        at = f":{exc.line}" if exc.line else ""
        raise PolicyError(f"{source}{at}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        problem = (exc.problem or exc.context or "").removeprefix("but ")
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise _error(
            source,
            exc.problem_mark or exc.context_mark,
            f"not valid YAML: {problem}{context}; check the indentation, quotes and brackets",
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise PolicyError(
            f"{source}:{line}: not valid YAML: character #x{exc.character:04x} is not allowed; "
            "remove it or write it as an escape in a double-quoted string"
        ) from None
    if root is None:
        raise _error(source, None, "empty policy file: write schema_version: 1, name and rules")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise _error(
            source,
            root,
            f"the top level must be a mapping of schema_version, name and rules, not {_a(data)}",
        )
    return root, data


def _compose(text: str, source: str, *, fast: bool) -> tuple[Any, Any]:
    """The checked node tree of ``text`` and the data built from it."""
    refuse_unsafe_yaml(text, "a policy file", _PLAIN_TAGS, _MAX_DEPTH, fast=fast)
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_keys(root, source)  # before construction, which applies merge keys
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def _pairs(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _key_node(node: yaml.Node, key: Any) -> yaml.Node | None:
    return next((k for k, _ in _pairs(node) if k.value == str(key)), None)


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    """The node at ``part`` (a key or a list index) under ``node``, if the file has one."""
    if isinstance(node, yaml.SequenceNode):
        return node.value[part] if isinstance(part, int) and part < len(node.value) else None
    return next((v for k, v in _pairs(node) if k.value == str(part)), None)


def _check_shape(root: yaml.MappingNode, data: dict[Any, Any], source: str) -> None:
    """What validation cannot point at by line: keys, version, the rule list, ids and kinds."""
    if "schema_version" not in data:
        raise _error(source, root, "missing schema_version: add `schema_version: 1` at the top")
    version = data["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _error(
            source,
            _child(root, "schema_version"),
            f"schema_version {_yaml_value(version)} is not supported (this pytest-agentops "
            f"reads schema_version {SCHEMA_VERSION}): write `schema_version: {SCHEMA_VERSION}`, "
            "or upgrade pytest-agentops (pip install -U pytest-agentops) if the file is newer",
        )
    for key_node, _ in _pairs(root):
        if key_node.value not in _TOP_LEVEL_KEYS:
            raise _error(
                source,
                key_node,
                f"unknown top-level key {key_node.value!r} (allowed: "
                f"{', '.join(_TOP_LEVEL_KEYS)}){_suggest(key_node.value, _TOP_LEVEL_KEYS)}",
            )
    rules_node = _child(root, "rules")
    if rules_node is None:
        raise _error(
            source,
            root,
            "missing rules: add a list such as "
            "`rules: [{id: no-delete, forbid_tools: [delete_account]}]`",
        )
    rules = data["rules"]
    if not isinstance(rules, list) or not isinstance(rules_node, yaml.SequenceNode):
        raise _error(
            source, rules_node, f"rules must be a list, not {_a(rules)}: start each rule with '- '"
        )
    first_use: dict[str, int] = {}
    for number, (rule, node) in enumerate(zip(rules, rules_node.value, strict=True), 1):
        _check_rule(number, rule, node, first_use, source)


def _check_keys(root: yaml.Node, source: str) -> None:
    """Refuse duplicate keys, which YAML loaders silently resolve to the last, and merge keys."""
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        first_line: dict[str, int] = {}
        for key, value in _pairs(node):
            if not isinstance(key, yaml.ScalarNode):
                kind = "a list" if isinstance(key, yaml.SequenceNode) else "a mapping"
                raise _error(
                    source, key, f"keys must be plain names, not {kind}: write `key: value`"
                )
            if key.tag == "tag:yaml.org,2002:merge":
                raise _error(source, key, "merge keys (<<) are not allowed: write the keys out")
            if key.value in first_line:
                raise _error(
                    source,
                    key,
                    f"duplicate key {key.value!r} (first at line {first_line[key.value]}): "
                    "remove one of them",
                )
            first_line[key.value] = key.start_mark.line + 1
            pending.append(value)


def _check_rule(
    number: int, rule: Any, node: yaml.Node, first_use: dict[str, int], source: str
) -> None:
    if not isinstance(rule, dict):
        raise _error(
            source,
            node,
            f"rule #{number} must be a mapping such as "
            f"`{{id: no-delete, forbid_tools: [delete_account]}}`, not {_a(rule)}",
        )
    id_node = _child(node, "id")
    if id_node is None:
        raise _error(source, node, f"rule #{number} has no id: add `id: <a unique name>`")
    rule_id = rule["id"]
    if not isinstance(rule_id, str) or not rule_id:
        raise _error(
            source,
            id_node,
            f"rule #{number}: id must be a non-empty string, not {_yaml_value(rule_id)}"
            + ("" if isinstance(rule_id, str) else "; put it in quotes"),
        )
    if rule_id in first_use:
        raise _error(
            source,
            id_node,
            f"duplicate rule id (first used at line {first_use[rule_id]}): "
            "give each rule its own id",
            rule_id,
        )
    first_use[rule_id] = id_node.start_mark.line + 1
    kinds = _rule_kinds(rule)
    if len(kinds) > 1:
        first, second = list(kinds.values())[:2]
        raise _error(
            source,
            _key_node(node, second),
            f"this rule has both {first} and {second}, but a rule checks one thing: "
            "split it into two rules, each with its own id",
            rule_id,
        )
    if not kinds:
        for key in rule:
            suggestion = _suggest(str(key), [*_KIND_OF_KEY, "tool"])
            if key not in ("id", "description") and suggestion:
                raise _error(
                    source, _key_node(node, key), f"unknown key {key!r}{suggestion}", rule_id
                )
        raise _error(
            source, node, f"this rule checks nothing: give it one of {_KINDS_TEXT}", rule_id
        )


_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}


def _explain(
    exc: ValidationError, root: yaml.Node, data: dict[Any, Any], source: str
) -> PolicyError:
    """The first validation error, located in the file and phrased for the policy's author."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = list(error["loc"])
    rule_id = None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rule_id = data["rules"][loc[1]]["id"]
        del loc[2:3]  # the kind tag that the rule union adds
    node = root
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    ctx = error.get("ctx") or {}
    if "policy_key" in ctx:
        node = _key_node(node, ctx["policy_key"]) or node
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[2 if rule_id else 0 :])
    field = field.lstrip(".")
    got = _yaml_value(error.get("input"))
    kind = error["type"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind in _EXPECTED:
        message = f"{field} must be {_EXPECTED[kind]}, not {got}"
        if kind == "string_type" and not got.startswith("a "):
            message += "; put it in quotes"
    elif kind == "greater_than_equal":
        message = f"{field} must be >= {ctx['ge']}, not {got}"
    elif kind == "too_short":
        message = f"{field} must not be empty"
    elif kind == "literal_error":
        message = f"{field} must be one of {ctx['expected']}, not {got}"
    elif kind == "policy":
        message = error["msg"]
    else:
        message = f"{field}: {error['msg']}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return _error(source, node, message + more, rule_id)
