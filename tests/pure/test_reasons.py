import pytest

from integration import reasons, taxonomy


@pytest.mark.parametrize(("raw_code", "description", "expected"), [
    ("", "Delivery attempted - nobody home, notice left", "recipient_unavailable"),
    ("AttemptFail_003", "Business closed on arrival", "business_closed"),
    ("", "Incorrect address - please contact the carrier", "address_issue"),
    ("", "Shipment refused by recipient", "refused"),
    ("", "Package damaged in transit", "damaged"),
    ("", "Held by customs: commercial invoice required", "customs_documents"),
    ("", "Import duties due before delivery", "payment_due"),
    ("WEATHER_DELAY", "", "weather"),
    ("", "Shipment mis-sorted at hub", "misrouted"),
    ("", "Parcel lost, investigation opened", "lost"),
    ("", "Late flight, delivery delayed", "carrier_delay"),
    ("X99", "Something unusual happened", "other"),
])
def test_text_is_classified(raw_code, description, expected):
    assert reasons.classify(None, raw_code, description) == expected


def test_adapter_reason_wins_over_text():
    assert reasons.classify("refused", "", "nobody home") == "refused"


def test_invalid_adapter_reason_falls_back_to_text():
    assert reasons.classify("not-a-reason", "", "storm in the area") == "weather"


def test_every_result_is_in_the_vocabulary():
    samples = ["", "damaged", "customs", "???", "closed", "address", "delay", "unclaimed parcel"]
    for text in samples:
        assert reasons.classify(None, "", text) in taxonomy.REASON_CODES
