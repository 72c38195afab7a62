"""Cassettes: which tests get one, vcrpy with LLM-aware matching, files, the network guard."""
