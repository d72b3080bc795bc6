"""Exception triage: suggest a reason for a carrier's free-text exception (pure Python).

A multinomial naive Bayes over the words of the carrier's text (and its raw code),
trained on the exceptions the desk has resolved with a confirmed reason. It never
decides alone: the rule-based reason (:func:`integration.reasons.classify`) stays the
exception's reason, the suggestion is shown beside it with its confidence, and a
manager confirms it.
"""

import math
import re
from collections import Counter, defaultdict

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
#: Words every carrier text has: they say nothing about the reason.
STOP_WORDS = frozenset({"the", "and", "for", "has", "have", "been", "was", "will", "your", "shipment", "package",
                        "parcel", "delivery", "with", "from", "this", "that"})


def tokens(*texts):
    """Lower-case words of three letters or more, without the carriers' filler words.

    >>> tokens("Storm - hub CLOSED", "WX01")
    ['storm', 'hub', 'closed']
    """
    words = []
    for text in texts:
        words.extend(word for word in _WORD.findall((text or "").lower()) if word not in STOP_WORDS)
    return words


class NaiveBayes:
    """Multinomial naive Bayes with Laplace smoothing over :func:`tokens`."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha
        self.class_counts = Counter()
        self.word_counts = defaultdict(Counter)
        self.vocabulary = set()

    def fit(self, examples):
        """:param examples: iterable of ``(words, reason)``."""
        for words, reason in examples:
            self.class_counts[reason] += 1
            self.word_counts[reason].update(words)
            self.vocabulary.update(words)
        return self

    @property
    def size(self):
        return sum(self.class_counts.values())

    def predict(self, words):
        """The most probable reason and its posterior probability, or (None, 0.0) untrained or wordless."""
        known = [word for word in words if word in self.vocabulary]
        if not self.class_counts or not known:
            return None, 0.0
        total = self.size
        vocabulary = len(self.vocabulary)
        scores = {}
        for reason, count in self.class_counts.items():
            counts = self.word_counts[reason]
            denominator = sum(counts.values()) + self.alpha * vocabulary
            scores[reason] = math.log(count / total) + sum(
                math.log((counts[word] + self.alpha) / denominator) for word in known)
        best = max(sorted(scores), key=scores.get)
        top = scores[best]
        evidence = sum(math.exp(score - top) for score in scores.values())
        return best, 1 / evidence
