"""Importers turn traces captured elsewhere into :class:`~pytest_agentops.Trajectory`."""
