"""Correlation ids bound around a message's processing end every log line about it."""

import logging

from integration import correlation


def test_lines_carry_the_bound_ids_and_only_while_bound(caplog):
    logger = correlation.get_logger("shipment_visibility.test")
    with caplog.at_level(logging.DEBUG, logger="shipment_visibility.test"):
        logger.info("before")
        with correlation.bind("abc123", "", "abc123"):
            logger.warning("message %s failed", 7)
            logger.info("already tagged [abc123]")
            with correlation.bind("def", "ghi"):
                logger.debug("batch")
            logger.info("after the batch")
        logger.info("after")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "before",
        "message 7 failed [correlation_id=abc123]",
        "already tagged [abc123]",
        "batch [correlation_id=def,ghi]",
        "after the batch [correlation_id=abc123]",
        "after",
    ]
    assert caplog.records[1].correlation_id == "abc123"
    assert not hasattr(caplog.records[0], "correlation_id")


def test_current_text_is_bounded():
    with correlation.bind(*[f"{n:032x}" for n in range(50)]):
        assert len(correlation.current_text()) == correlation.MAX_TEXT
    assert correlation.current() == ()
    assert correlation.current_text() is None
