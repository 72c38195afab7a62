"""Exceptions with messages meant for people: what is wrong, where, and how to fix it."""

from __future__ import annotations


class AgentopsError(Exception):
    """Base class of every error pytest-agentops raises on purpose."""


class TrajectoryLoadError(AgentopsError, ValueError):
    """A trajectory file or object could not be read: names the source and the field."""
