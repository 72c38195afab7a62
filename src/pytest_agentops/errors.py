"""Every error pytest-agentops raises on purpose, with messages meant for people: what is
wrong, where, and how to fix it.  Standard library only."""

from __future__ import annotations


class AgentopsError(Exception):
    """Base class of every error pytest-agentops raises on purpose."""


class TrajectoryLoadError(AgentopsError, ValueError):
    """A trajectory file or object could not be read: names the source and the field."""


class PolicyError(AgentopsError, ValueError):
    """A policy file or document is malformed; the message names the file, line and rule."""


class CassetteFileError(AgentopsError, ValueError):
    """A cassette file exists but cannot be used: names the file, the problem and the fix."""


class ReplayedToolError(AgentopsError, RuntimeError):
    """A recorded tool exception whose class could not be rebuilt on replay."""


class NetworkBlockedError(AgentopsError, ConnectionRefusedError):
    """A connection refused because the test runs with the network blocked."""


class JudgeError(AgentopsError):
    """The judge could not produce a verdict (provider error, unusable replies, no API key)."""


class AgentopsWarning(UserWarning):
    """Something the plugin recorded or replayed is not what it seems (shown once)."""
