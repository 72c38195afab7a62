"""Assertions on trajectories: assert_* helpers, call matching, value matchers."""
