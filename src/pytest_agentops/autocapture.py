"""Switch litellm capture on for the running test without importing litellm needlessly.

If litellm is already imported (the usual case: the agent module imports it), the capture
callback is registered at once.  Otherwise a one-shot import watcher registers it the moment
the code under test imports litellm, so runs that never use litellm never pay for its import.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


class _LitellmImportWatcher(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "litellm":
            return None
        _remove_watcher()
        spec = importlib.util.find_spec(fullname)
        loader: Any = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            loader.exec_module = original
            from .litellm_capture import ensure_installed

            ensure_installed()

        loader.exec_module = exec_module
        return spec


_WATCHER = _LitellmImportWatcher()


def _remove_watcher() -> None:
    if _WATCHER in sys.meta_path:
        sys.meta_path.remove(_WATCHER)


def activate() -> None:
    if "litellm" in sys.modules:
        from .litellm_capture import ensure_installed

        ensure_installed()
    elif _WATCHER not in sys.meta_path:
        sys.meta_path.insert(0, _WATCHER)


def deactivate() -> None:
    _remove_watcher()
    if "pytest_agentops.litellm_capture" in sys.modules:
        from .litellm_capture import uninstall

        uninstall()
