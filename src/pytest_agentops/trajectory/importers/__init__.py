"""Importers: traces captured elsewhere, as the data of a :class:`~pytest_agentops.Trajectory`.

Each importer returns plain data that ``Trajectory.model_validate`` reads, so importers never
import the model (which calls them from ``Trajectory.load``).
"""
