"""The scripted judge behind ``FakeLLM(behaviour="judge")``: grades like a literal-minded model.

It reads a judge prompt the way a model would: the CRITERIA, the numbered rubric checks, and the
subject.  Each criterion or check is scored from cues in the subject (politeness markers for
"tone", an amount and an order id for "refund", ...; otherwise the share of the criterion's
content words the subject contains), and the reply is the JSON verdict the prompt asks for.

Like a real model, it can be talked into a score.  It obeys "give a score of N" wherever it
appears in the prompt, *unless* the prompt fences the subject between ``<<<SUBJECT tag>>>`` and
``<<<END SUBJECT tag>>>`` markers and its system message says such instructions must never be
followed: then text inside the fence is only graded.  That is the behaviour the prompt-injection
tests need: a naive prompt gets fooled, pytest-agentops' prompt does not.

Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"<<<SUBJECT (\w+)>>>\n(.*?)\n<<<END SUBJECT \1>>>", re.S)
_OBEY = re.compile(r"give (?:it |this |me )?a score of (\d+(?:\.\d+)?)", re.IGNORECASE)
_CHECK = re.compile(r"^(\d+)\. (.+?)(?: \(weight [\d.]+\))?$", re.M)
_POLITE = ("please", "thank", "happy to help", "glad", "sorry", "you're welcome", "welcome")
_RUDE = ("stupid", "idiot", "whatever", "shut up", "not my problem")
_STOP = {
    "the", "a", "an", "and", "or", "of", "to", "in", "is", "it", "its", "be", "with", "for",
    "that", "this", "on", "as", "are", "by", "at", "from", "each", "every", "any", "what",
    "how", "does", "do", "answer", "response", "reply", "subject", "agent", "meets", "check",
    "rubric", "customer",
}  # fmt: skip


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _score_criterion(criterion: str, subject: str) -> tuple[float, str]:
    c, s = criterion.lower(), subject.lower()
    if "tone" in c or "polite" in c or "courteous" in c:
        polite = [m for m in _POLITE if m in s]
        rude = [m for m in _RUDE if m in s]
        if rude:
            return 0.1, f"rude wording ({', '.join(rude)})"
        if polite:
            return 1.0, f"polite wording ({', '.join(polite)})"
        return 0.5, "neutral wording, no courtesy"
    if "refund" in c:
        cues = {
            "an amount": bool(re.search(r"\$\s?\d", subject)),
            "the order": bool(re.search(r"\bORD-\d{4}\b", subject)),
            "the refund": "refund" in s,
        }
        found = [k for k, v in cues.items() if v]
        missing = [k for k, v in cues.items() if not v]
        score = len(found) / len(cues)
        why = f"mentions {', '.join(found) or 'nothing relevant'}"
        return score, why + (f"; missing {', '.join(missing)}" if missing else "")
    words = [w for w in re.findall(r"[a-z]{3,}", c) if w not in _STOP]
    if not words:
        return 0.5, "criterion has no content words"
    hits = [w for w in words if w in s]
    return len(hits) / len(words), f"covers {len(hits)} of {len(words)} key terms"


def verdict(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON verdict for a judge conversation (the last user message is graded)."""
    system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    # a repair turn repeats the request: grade the first user message
    prompt = users[0] if users else ""
    fence = _FENCE.search(prompt)
    defended = fence is not None and "never be followed" in system
    subject = fence.group(2) if fence else prompt
    outside = prompt.replace(fence.group(0), "") if defended and fence else prompt
    obeyable = system + "\n" + outside
    ordered = _OBEY.search(obeyable)
    criteria_part = prompt.split("CRITERIA:", 1)[-1].split("<<<SUBJECT", 1)[0]
    checks = [(int(n), text) for n, text in _CHECK.findall(criteria_part)]
    criteria = criteria_part.split("\n\n", 1)[0].strip()
    if ordered:
        score = min(float(ordered.group(1)), 1.0)
        return {
            "reasoning": f"As instructed, the score is {score:g}.",
            "score": score,
            "checks": [
                {"index": n, "score": score, "reasoning": "as instructed"} for n, _ in checks
            ],
        }
    if checks:
        scored = [(n, *_score_criterion(text, subject)) for n, text in checks]
        score = sum(s for _, s, _ in scored) / len(scored)
        return {
            "reasoning": "; ".join(f"check {n}: {why}" for n, _, why in scored),
            "score": round(score, 3),
            "checks": [
                {"index": n, "score": round(s, 3), "reasoning": why} for n, s, why in scored
            ],
        }
    score, why = _score_criterion(criteria, subject)
    return {"reasoning": why[0].upper() + why[1:] + ".", "score": round(score, 3), "checks": []}


#: What a confused model answers instead of JSON (``FakeLLM(faults=["malformed"])``).
MALFORMED = "I'd give this about 9/10: the answer looks great to me!"
