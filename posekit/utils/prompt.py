"""Yes/no questions for scripts (DeepLabCut's accepted answers)."""

from __future__ import annotations

YES = frozenset({"y", "yes", "ja", "ha", "oui", "ouais"})


def ask_yes_no(question: str) -> bool:
    """Ask on standard input; True for any of DeepLabCut's "yes" words."""
    return input(question).strip().lower() in YES
