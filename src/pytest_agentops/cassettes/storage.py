"""Cassette files: vcrpy's persister and serializer, made safe for agent tests.

- writes are atomic (temporary file + rename), once per test, so xdist workers and killed
  runs never leave a torn cassette;
- a file that cannot be used is one :class:`~pytest_agentops.CassetteFileError` naming the
  file, the line or field, and the fix; the cassette ``version`` is checked;
- the test's tool tape is the ``agentops`` section of the same file;
- keys keep their recorded order, and compressed response bodies are stored decoded.
"""

from __future__ import annotations

import copy
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from vcr.filters import decode_response
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request
from vcr.serializers import compat

from pytest_agentops._util import (
    UnsafeYaml,
    atomic_write_text,
    dump_plain_yaml,
    load_plain_yaml,
    version_problem,
)
from pytest_agentops.capture.tape import ToolTapeFile
from pytest_agentops.errors import CassetteFileError

if TYPE_CHECKING:
    from .cassette import Cassette

#: The ``version`` written in (and accepted from) cassette files.
CASSETTE_VERSION = 1


def header_values(headers: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: (v if isinstance(v, list) else [v]) for k, v in headers.items()}


#: vcrpy reads the first value of each header: an empty list is an error, not a crash.
_Headers = dict[str, Annotated[list[str], Field(min_length=1)] | str]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Request(_Shape):
    method: str
    uri: str
    body: str | bytes | None = None
    headers: _Headers = Field(default_factory=dict)


class _Status(_Shape):
    code: int
    message: str = ""


class _Body(_Shape):
    string: str | bytes


class _Response(_Shape):
    status: _Status
    headers: _Headers = Field(default_factory=dict)
    body: _Body


class _Interaction(_Shape):
    """The shape vcrpy's replay relies on: checked on load, so a broken cassette is one
    clear error naming the field instead of a traceback from deep inside vcrpy."""

    request: _Request
    response: _Response


class Persister:
    """vcrpy persister: atomic writes, readable errors, the tool tape in the same file."""

    def __init__(self, owner: Cassette) -> None:
        self.owner = owner

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        shown = self.owner.display_path
        fix = "Delete it and record it again with --agentops-record=rewrite."
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteFileError(f"{shown}: cannot read the cassette ({exc}). {fix}") from None
        if not text.strip():
            raise CassetteNotFoundError()
        try:
            data = serializer.deserialize(text)
        except UnsafeYaml as exc:
            where = f" (line {exc.line})" if exc.line else ""
            raise CassetteFileError(f"{shown}{where}: {exc}. {fix}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise CassetteFileError(
                f"{shown}{where}: not a valid YAML cassette: {problem}. {fix}"
            ) from None
        except ValueError as exc:
            raise CassetteFileError(f"{shown}: {exc}. {fix}") from None
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise CassetteFileError(
                f"{shown}: not a cassette (expected a mapping with an `interactions` list). {fix}"
            )
        version = data.get("version", CASSETTE_VERSION)
        if version != CASSETTE_VERSION:
            raise CassetteFileError(
                version_problem(
                    shown,
                    "version",
                    version,
                    CASSETTE_VERSION,
                    "delete the cassette and record it again with --agentops-record=rewrite",
                )
            )
        requests, responses = [], []
        for index, interaction in enumerate(data["interactions"]):
            try:
                _Interaction.model_validate(interaction)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                field = ".".join(str(p) for p in first["loc"])
                raise CassetteFileError(
                    f"{shown}: interaction #{index + 1}: field `{field}`: {first['msg']}. {fix}"
                ) from None
            request = interaction["request"]  # only what vcrpy's Request takes, body optional
            requests.append(
                Request(
                    request["method"],
                    request["uri"],
                    request.get("body"),
                    request.get("headers") or {},
                )
            )
            responses.append(compat.convert_to_bytes(interaction["response"]))
        section = data.get("agentops")
        if section is not None:
            try:
                self.owner.loaded_tools = ToolTapeFile.model_validate(section).tools
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise CassetteFileError(
                    f"{shown}: field `agentops.{field}`: {first['msg']}. {fix}"
                ) from None
        return requests, responses

    def save_cassette(
        self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        owner = self.owner
        interactions = []
        for request, response in zip(
            cassette_dict["requests"], cassette_dict["responses"], strict=True
        ):
            saved = owner.redact_interaction(request, response)
            if saved is not None:
                interactions.append(saved)
        data: dict[str, Any] = {"version": CASSETTE_VERSION, "interactions": interactions}
        tape = owner.tape
        if tape is not None and (tape.recorded or tape.new):
            # again now: a secret first seen in a later request's headers is known by now
            data["agentops"] = owner.redactor.value(tape.to_file())
        # the cassette removed what killed writes left when it opened (one listing per folder)
        atomic_write_text(cassette_path, serializer.serialize(data), orphans=False)
        owner.written = True


class Serializer:
    """Cassette YAML, read and written by the plugin itself whatever vcrpy version is there
    (vcrpy 6.0-8.1 read cassettes with PyYAML's unsafe loader: a cassette could run code).

    Reading takes plain data only (no tags but ``!!binary``, no anchors or aliases); writing
    keeps keys in their recorded order (vcrpy sorts them, which reorders replayed tool
    results and so changes what the agent sends next).
    """

    @staticmethod
    def deserialize(text: str) -> Any:
        return load_plain_yaml(text, "a cassette")

    @staticmethod
    def serialize(data: Any) -> str:
        return dump_plain_yaml(data, width=100)


def decode_body(response: dict[str, Any]) -> dict[str, Any]:
    """Store bodies decompressed (httpx records them compressed, aiohttp already decoded)."""
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    if "content-encoding" not in headers:
        return response
    try:
        return decode_response(response)  # type: ignore[no-any-return]
    except (zlib.error, OSError, ValueError, TypeError):
        response = copy.deepcopy(response)
        response["headers"] = {
            k: v
            for k, v in response["headers"].items()
            if k.lower() not in ("content-encoding", "content-length")
        }
        return response
