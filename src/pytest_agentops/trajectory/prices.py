"""USD cost of an LLM call from litellm's price table, without importing litellm if it can.

``import litellm`` costs seconds.  A test suite that talks to models through the raw openai or
anthropic SDK (captured on the wire) should not pay that just to price its calls, so when
litellm is not imported yet the price table is read straight from the JSON file litellm ships
(``model_prices_and_context_window_backup.json``, the table litellm itself uses with
``LITELLM_LOCAL_MODEL_COST_MAP=True``).  Once litellm is imported, its own ``cost_per_token``
is used, so both paths agree with what litellm reports for its own calls.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

_TABLE = "model_prices_and_context_window_backup.json"
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$|-\d{8}$")


@functools.cache
def _bundled_table() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for location in spec.submodule_search_locations:
        path = Path(location) / _TABLE
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _names(model: str, provider: str | None) -> list[str]:
    """The names a model may have in a price table (with/without provider, undated)."""
    names = [model]
    if provider and "/" not in model:
        names.append(f"{provider}/{model}")
    if "/" in model:
        names.append(model.split("/", 1)[1])
    names += [_DATED.sub("", name) for name in names if _DATED.search(name)]
    return names


def _priced(table: Any, model: str, provider: str | None) -> str | None:
    """The first of the model's names that ``table`` prices."""
    for name in _names(model, provider):
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return name
    return None


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, provider: str | None = None
) -> float | None:
    """The call's cost, or None when the model is not in the price table."""
    if "litellm" in sys.modules:
        cost = _litellm_cost(model, provider, input_tokens, output_tokens)
        if cost is not None:
            return cost
    table = _bundled_table()
    name = _priced(table, model, provider)
    if name is None:
        return None
    entry = table[name]
    prompt = float(entry.get("input_cost_per_token") or 0.0)
    completion = float(entry.get("output_cost_per_token") or 0.0)
    return input_tokens * prompt + output_tokens * completion


def _litellm_cost(
    model: str, provider: str | None, input_tokens: int, output_tokens: int
) -> float | None:
    """The cost by litellm's own ``cost_per_token`` (its table includes the models registered
    with ``litellm.register_model``), or None when litellm does not price the model.  Models
    it does not know are not asked about: litellm would print its provider list."""
    # Keep litellm's cost lookups local and reproducible unless the user decided otherwise.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        name = _priced(litellm.model_cost, model, provider)
        if name is None:
            return None
        prompt, completion = litellm.cost_per_token(
            model=name, prompt_tokens=input_tokens, completion_tokens=output_tokens
        )
    except Exception:
        return None
    return float(prompt) + float(completion)
