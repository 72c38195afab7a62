"""A production incident of the support agent, promoted to a regression case (see README.md)."""
