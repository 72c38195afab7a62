"""Helpers every capability uses: atomic files, JSON values, display text.  Standard library only.

- files: :func:`atomic_write_text` (readers see the old file or the new one, never half),
  :func:`format_from_suffix`;
- JSON values: :func:`canonical` (equal exactly when two values are equal as JSON) and its
  text form :func:`canonical_json`, :func:`is_json_data` (survives a JSON round trip),
  :func:`body_text` and :func:`parse_json` (HTTP bodies as text and as JSON);
- hosts: :func:`is_loopback_host`;
- display: :func:`truncate`, :func:`short` (a repr), :func:`clip` (one line of text),
  :func:`abridge` (long text with a count of what was cut), :func:`plural`, :func:`error_text`
  (an exception).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

# ---- files -----------------------------------------------------------------------------------


def atomic_write_text(path: str | os.PathLike[str], text: str, *, orphans: bool = True) -> Path:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    The data goes to a temporary file ``.NAME.PID-RANDOM.tmp`` in the same directory (never
    matched by ``*.json`` / ``*.yaml``), is flushed to disk, then renamed over the target
    (``os.replace`` is atomic on POSIX and Windows).  The temporary file's name is chosen
    before it is created, so an interrupt at any point removes it; temporary files that
    killed writers left behind (their process is gone) are removed by the next write
    (``orphans=False``: the caller removed them already, as a cassette does when it opens).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # the mode a new file gets (a private temporary file's 0600 would survive the rename)
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    if orphans:
        remove_orphans(target)
    tmp = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        if hasattr(os, "fchmod"):  # not on Windows, where modes do not apply
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


#: Temporary files of writers that cannot be asked whether they still run (another naming,
#: or Windows, where there is no harmless way to probe a process) are removed after this.
_ORPHAN_AGE_S = 600.0


def remove_orphans(target: Path) -> None:
    """Remove the temporary files that killed writes of ``target`` left behind."""
    for orphan in target.parent.glob(f".{target.name}.*.tmp"):
        owner = orphan.name[len(target.name) + 2 : -4].split("-", 1)[0]
        if owner.isdigit() and os.name == "posix":
            if int(owner) == os.getpid() or _running(int(owner)):
                continue
        else:
            try:
                if time.time() - orphan.stat().st_mtime < _ORPHAN_AGE_S:
                    continue
            except OSError:
                continue
        with contextlib.suppress(OSError):
            orphan.unlink()


class LeftTemporaryFiles:
    """The temporary files that killed writes left in folders of files about to be used,
    each folder listed once (a folder of 5,000 cassettes is not read again per test)."""

    def __init__(self) -> None:
        self._folders: dict[Path, list[str]] = {}

    def remove(self, target: Path) -> None:
        """Remove ``target``'s temporary files (``.NAME.*.tmp``): only its own test writes
        it, so any there was left by a write that was killed."""
        names = self._folders.get(target.parent)
        if names is None:
            try:
                with os.scandir(target.parent) as entries:
                    names = [e.name for e in entries if e.name.endswith(".tmp")]
            except OSError:
                names = []
            self._folders[target.parent] = names
        prefix = f".{target.name}."
        for name in [n for n in names if n.startswith(prefix)]:
            names.remove(name)
            with contextlib.suppress(OSError):
                (target.parent / name).unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (POSIX)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def _umask() -> int:
    """The process's umask, read without changing it (Linux), or by setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def format_from_suffix(path: str | os.PathLike[str], default: str = "json") -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    return default


# ---- JSON values -----------------------------------------------------------------------------


class _Tag:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: :func:`canonical` tags what is not a plain string, number or null: ``(MAP, frozenset of
#: (key, canonical item))``, ``(LIST, tuple)``, ``(BOOL, value)``, ``(OTHER, text)``.
MAP, LIST, BOOL, OTHER = _Tag("map"), _Tag("list"), _Tag("bool"), _Tag("other")


def canonical(value: Any) -> Hashable:
    """A hashable stand-in for a JSON value, equal exactly when the values are equal as JSON.

    Key order is ignored, ``250 == 250.0``, ``true`` is not ``1``, keys compare as strings and
    tuples as lists.  What JSON cannot hold is compared by its repr (NaN equals NaN).
    """
    if type(value) is str or type(value) is int or value is None:
        return value
    if isinstance(value, bool):
        return (BOOL, value)
    if isinstance(value, float):
        if value != value:
            return (OTHER, "nan")
        return int(value) if value.is_integer() else value
    if isinstance(value, int):  # IntEnum and friends
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text, not an enum member's name
    if isinstance(value, dict):
        return (MAP, frozenset((str(key), canonical(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return (LIST, tuple(canonical(item) for item in value))
    return (OTHER, repr(value))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def canonical_json(value: Any) -> str | None:
    """:func:`canonical` as text: equal for JSON values that are equal as JSON; ``None`` for
    what JSON cannot hold (NaN, objects).

    For keys kept in bulk (one per tool call of a long run): strings are not tracked by the
    garbage collector, while the tuples and frozensets of :func:`canonical` are, and every
    collection would walk them.
    """
    try:
        return json.dumps(_plain(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None


#: How deep plain data read from a file may nest: far beyond any real trace, well inside what
#: pydantic can write back and what ``json``/PyYAML read without recursing out.
MAX_NESTING = 100


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` levels (no recursion)."""
    if type(value) is not dict and type(value) is not list:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def is_json_data(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (finite numbers, string keys,
    plain lists and dicts, at most 100 levels deep)."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if depth > 100:
        return False
    if type(value) is list:
        return all(is_json_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and is_json_data(v, depth + 1) for k, v in value.items())
    return False


def body_text(body: Any) -> str | bytes | None:
    """An HTTP body (text, bytes, a file-like buffer) as text; bytes when it is not UTF-8;
    ``None`` when empty."""
    if body is None:
        return None
    if hasattr(body, "read"):  # vcrpy keeps file bodies as BytesIO
        body = body.getvalue() if hasattr(body, "getvalue") else b""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(body) or None
    if not isinstance(body, str):
        return None
    return body or None


#: What :func:`parse_json` returns for text that is not JSON.
NOT_JSON: Any = _Tag("not JSON")


def parse_json(body: Any) -> Any:
    """The JSON value of an HTTP body, or :data:`NOT_JSON` (empty, binary or not JSON)."""
    text = body_text(body)
    if not isinstance(text, str) or not text.strip():
        return NOT_JSON
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


def is_loopback_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.lower().strip("[]")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


# ---- messages --------------------------------------------------------------------------------


def version_problem(where: str, field: str, found: Any, reads: Any, instead: str) -> str:
    """The error for a file written by another version of its format."""
    return (
        f"{where}: field `{field}`: this file is {field} {found!r}, but this pytest-agentops "
        f"reads {field} {reads}. Upgrade pytest-agentops (pip install -U pytest-agentops), or "
        f"{instead}."
    )


# ---- display text ----------------------------------------------------------------------------


def truncate(text: str, limit: int, ellipsis: str = "...") -> str:
    """``text`` cut to at most ``limit`` characters, ending with ``ellipsis`` when cut."""
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


def short(value: Any, limit: int = 60, ellipsis: str = "...") -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    return truncate(repr(value), limit, ellipsis)


def clip(text: str, limit: int = 80) -> str:
    """Plain text (an error message, the model's words) on one line, cut to ``limit``."""
    return truncate(" ".join(text.split()), limit)


def abridge(text: str, limit: int = 2000) -> str:
    """Long text cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[: limit - 20] + f"... [{len(text) - limit + 20} more]"


def plural(count: int, word: str) -> str:
    """``1 step``, ``2 steps``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def error_text(exc: BaseException) -> str:
    """``"ValueError: no such order"`` (the class name alone when there is no message)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---- plain YAML --------------------------------------------------------------------------------

#: The explicit YAML tags of plain data (``!!binary``: bytes, as cassettes store bodies).
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "binary")
)


class UnsafeYaml(ValueError):
    """YAML that plain data never needs: an alias, an anchor, a tag, absurd nesting."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def refuse_unsafe_yaml(
    text: str,
    what: str,
    tags: frozenset[str] = PLAIN_TAGS,
    max_depth: int = 100,
    *,
    fast: bool = True,
) -> None:
    """Scan ``text`` (YAML events only: nothing is built) and raise :class:`UnsafeYaml` at
    the first alias, anchor, tag outside ``tags`` or nesting deeper than ``max_depth``.

    Aliases are refused before anything is built, so a "billion laughs" file costs nothing;
    tags such as ``!!python/object/apply`` never reach a constructor.  Syntax errors are
    PyYAML's own (``yaml.YAMLError``); ``fast=False`` parses in Python, whose messages are
    the more precise.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        mark = getattr(event, "start_mark", None)
        line = mark.line + 1 if mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYaml(
                f"YAML aliases (*{event.anchor}) are not allowed in {what}: write the value "
                "out in full",
                line,
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise UnsafeYaml(
                f"YAML anchors (&{event.anchor}) are not allowed in {what}: remove the anchor "
                "and write repeated values out in full",
                line,
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in tags:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise UnsafeYaml(
                f"YAML tag {shown!r} is not allowed in {what}, which is plain data "
                "(mappings, lists, strings, numbers): remove the tag",
                line,
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise UnsafeYaml(f"nested more than {max_depth} levels deep", line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_plain_yaml(text: str, what: str, tags: frozenset[str] = PLAIN_TAGS) -> Any:
    """YAML as plain data, after :func:`refuse_unsafe_yaml`: PyYAML's safe loader only.

    Text with no ``&``, ``*`` or ``!`` can hold no anchor, alias or tag: it is parsed once
    (by libyaml) and built here, which takes a third of the time; anything else, or anything
    that text holds beyond plain values (merge keys, complex keys, deep nesting), goes the
    checked way.
    """
    import yaml

    if "&" not in text and "*" not in text and "!" not in text:
        try:
            return _plain_nodes(text)
        except _NotPlain:
            pass
    refuse_unsafe_yaml(text, what, tags)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class _NotPlain(Exception):
    """The document needs :func:`load_plain_yaml`'s checked way."""


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_FAST_DEPTH = 100


def _plain_nodes(text: str) -> Any:
    """``yaml.load`` of a document without anchors, aliases or tags (see the caller):
    libyaml composes the nodes, strings are taken as they are, other scalars (numbers,
    booleans, nulls, timestamps) are built by PyYAML's safe constructor."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        raise _NotPlain
    root = yaml.compose(text, Loader=loader)
    if root is None:
        return None
    constructor = yaml.constructor.SafeConstructor()
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def build(node: Any, depth: int) -> Any:
        if isinstance(node, scalar):
            return node.value if node.tag == _STR else constructor.construct_object(node)
        if depth >= _FAST_DEPTH:
            raise _NotPlain
        if isinstance(node, sequence):
            return [build(child, depth + 1) for child in node.value]
        if not isinstance(node, mapping):
            raise _NotPlain
        out = {}
        for key, value in node.value:
            if not isinstance(key, scalar) or key.tag == _MERGE:
                raise _NotPlain  # a complex key, or a merge
            out[build(key, depth)] = build(value, depth + 1)
        return out

    return build(root, 0)


@functools.cache
def _plain_dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class PlainDumper(base):  # type: ignore[misc, valid-type]
        def ignore_aliases(self, data: Any) -> bool:
            return True  # never anchors: every value written out, as the loader requires

    def text(dumper: Any, value: str) -> Any:
        # PyYAML's own emitter writes U+0085 (NEL) raw, and reading it back makes it a space
        style = '"' if "\x85" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    PlainDumper.add_representer(str, text)
    return PlainDumper


def dump_plain_yaml(data: Any, **options: Any) -> str:
    """``data`` as YAML that :func:`load_plain_yaml` reads back equal: no anchors or
    aliases, no tags, unicode kept, keys in their order unless ``sort_keys=True``."""
    import yaml

    options.setdefault("sort_keys", False)
    text: str = yaml.dump(data, Dumper=_plain_dumper(), allow_unicode=True, **options)
    return text
