"""Cases: golden trajectories (baselines) and the semantic diff between two trajectories."""
