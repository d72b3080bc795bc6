"""Exception triage classifier: learns from resolved exceptions, says how sure it is."""

import doctest

from integration import triage


def test_doctests():
    assert doctest.testmod(triage).failed == 0


RESOLVED = [
    ("Storm - hub closed", "weather"), ("Severe weather conditions, flights cancelled", "weather"),
    ("Snow storm delays delivery", "weather"),
    ("Consignee not at home, notice left", "recipient_unavailable"),
    ("Nobody at home to sign", "recipient_unavailable"),
    ("Street number missing in address", "address_issue"), ("Address incomplete - street unknown", "address_issue"),
]


def test_untrained_suggests_nothing():
    model = triage.NaiveBayes()
    assert model.predict(triage.tokens("Storm near the hub")) == (None, 0.0)


def test_more_resolved_examples_give_better_suggestions():
    text = triage.tokens("Heavy storm, hub closed today")
    few = triage.NaiveBayes().fit((triage.tokens(t), r) for t, r in RESOLVED[3:] + RESOLVED[:1])
    many = triage.NaiveBayes().fit((triage.tokens(t), r) for t, r in RESOLVED)
    reason_few, confidence_few = few.predict(text)
    reason_many, confidence_many = many.predict(text)
    assert reason_many == "weather"
    assert reason_few == "weather"
    assert confidence_many > confidence_few > 0
    assert many.predict(triage.tokens("Customer not at home"))[0] == "recipient_unavailable"
    assert many.predict(triage.tokens("wrong street address"))[0] == "address_issue"


def test_probabilities_are_a_distribution():
    model = triage.NaiveBayes().fit((triage.tokens(t), r) for t, r in RESOLVED)
    _reason, confidence = model.predict(triage.tokens("storm"))
    assert 1 / 3 < confidence <= 1
