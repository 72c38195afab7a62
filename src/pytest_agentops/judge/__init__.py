"""LLM-as-judge: the hook contract (Verdict, JudgeRequest), the built-in judge, the pytest side."""
