"""The shared answer types and text metrics: the leaf every side and the comparison build on.

Imports nothing of the project but `corpus`, so `rag/`, `tuning/` and `compare/` all return and
score the same `Answer` without importing each other.
"""

from answers.answer import Answer, Answerer, ChatModel, Progress, Question, SourceHit, Usage

__all__ = ["Answer", "Answerer", "ChatModel", "Progress", "Question", "SourceHit", "Usage"]
