"""The trajectory: the model of an agent run, its files, its text renderings, importers."""
