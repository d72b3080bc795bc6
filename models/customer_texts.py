"""Words customers read about their shipment: statuses, progress steps, explanations.

The carrier's own text is kept on each event, but it is terse, in the carrier's
language and sometimes alarming ("EXCEPTION 07 CNEE NA"). Customers get a short
headline per status and, for problems, what happened and what they can do, in their
own language (these are code terms of the addon's translations).
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# Headline of the current status, and label of a timeline event.
STATUS_LABELS = {
    "pending": _lt("Preparing your order"),
    "info_received": _lt("Shipping label created"),
    "picked_up": _lt("Picked up by the carrier"),
    "in_transit": _lt("On its way"),
    "arrived_at_facility": _lt("Arrived at a carrier facility"),
    "departed_facility": _lt("Left a carrier facility"),
    "customs_hold": _lt("Held at customs"),
    "customs_cleared": _lt("Cleared customs"),
    "out_for_delivery": _lt("Out for delivery"),
    "delivery_attempted": _lt("Delivery attempted"),
    "available_for_pickup": _lt("Ready for pickup"),
    "delivered": _lt("Delivered"),
    "delayed": _lt("Delayed"),
    "exception": _lt("Problem with the delivery"),
    "returning_to_sender": _lt("Returning to the sender"),
    "returned_to_sender": _lt("Returned to the sender"),
    "cancelled": _lt("Shipment cancelled"),
    "unknown": _lt("Carrier update"),
}

# The progress bar (integration.customer_view.STEPS).
STEP_LABELS = {
    "ordered": _lt("Ordered"),
    "shipped": _lt("Shipped"),
    "in_transit": _lt("In transit"),
    "out_for_delivery": _lt("Out for delivery"),
    "delivered": _lt("Delivered"),
}

# Where the expected date comes from (integration.customer_view.Expectation.source).
SOURCE_LABELS = {
    "carrier": _lt("estimate from the carrier"),
    "promised": _lt("date promised with your order"),
    "predicted": _lt("our estimate from the carrier's progress"),
}

# What happened, and what the customer can do: per reason first, then per status.
REASON_TEXTS = {
    "recipient_unavailable": (
        _lt("The driver could not hand over the parcel because nobody was available to receive it."),
        _lt("The carrier usually tries again on the next working day. Check the notice left by the driver "
            "to choose another day or a pickup point.")),
    "business_closed": (
        _lt("The delivery address was closed when the driver came."),
        _lt("The carrier will try again on the next working day. Tell us if the opening hours have changed.")),
    "address_issue": (
        _lt("The carrier could not find or reach the delivery address."),
        _lt("Please contact us to check the address: we will pass the correction to the carrier.")),
    "refused": (
        _lt("The parcel was refused at the delivery address."),
        _lt("If this was not intended, contact us quickly before the parcel is sent back to us.")),
    "customs_documents": (
        _lt("Customs need documents or information before releasing the parcel."),
        _lt("We are providing what customs ask for. If the carrier contacts you, please answer them.")),
    "payment_due": (
        _lt("Duties, taxes or fees must be paid before the parcel can be delivered."),
        _lt("Follow the carrier's payment instructions, or contact us if you did not expect any fees.")),
    "weather": (
        _lt("Bad weather is slowing the carrier down."),
        _lt("Nothing to do: the parcel will move again as soon as it is safe.")),
    "carrier_delay": (
        _lt("The carrier is running late with this parcel."),
        _lt("Nothing to do: we keep an eye on it and will tell you if it needs anything from you.")),
    "misrouted": (
        _lt("The parcel was sent to the wrong facility and is being redirected."),
        _lt("Nothing to do: it will take a little longer to arrive.")),
    "damaged": (
        _lt("The carrier reports that the parcel was damaged."),
        _lt("We are looking into it and will contact you about a replacement or a refund.")),
    "lost": (
        _lt("The carrier cannot locate the parcel."),
        _lt("We are sorry: we will contact you about a replacement or a refund.")),
    "disposed": (
        _lt("The carrier could not deliver or return the parcel and disposed of it."),
        _lt("We will contact you about a replacement or a refund.")),
    "held_by_carrier": (
        _lt("The carrier is holding the parcel for now."),
        _lt("We are in touch with the carrier. If they contact you, please follow their instructions.")),
    "not_collected": (
        _lt("The parcel was not collected in time from the pickup point."),
        _lt("It will be sent back to us. Contact us to have it sent again.")),
    "partial_delivery": (
        _lt("Only part of the shipment was delivered."),
        _lt("The rest is on its way. Contact us if anything is still missing after the expected date.")),
}

STATUS_TEXTS = {
    "delivery_attempted": (
        _lt("The carrier tried to deliver your parcel but could not."),
        _lt("The carrier usually tries again on the next working day. Check the notice left by the driver.")),
    "available_for_pickup": (
        _lt("Your parcel is waiting for you at a pickup point."),
        _lt("Bring an ID and your tracking number. Parcels not collected in time go back to the sender.")),
    "customs_hold": (
        _lt("Your parcel is going through customs."),
        _lt("This usually takes a few days. If customs or the carrier contact you, please answer them.")),
    "delayed": (
        _lt("Your parcel is delayed."),
        _lt("Nothing to do: we keep an eye on it and will tell you if it needs anything from you.")),
    "exception": (
        _lt("The carrier reports a problem with your parcel."),
        _lt("We are looking into it with the carrier and will contact you if we need anything.")),
    "returning_to_sender": (
        _lt("Your parcel is on its way back to us."),
        _lt("Contact us to have it sent again or refunded.")),
    "returned_to_sender": (
        _lt("Your parcel came back to us."),
        _lt("Contact us to have it sent again or refunded.")),
    "cancelled": (
        _lt("This shipment was cancelled."),
        _lt("Contact us if you did not expect this.")),
}

# Statuses whose explanation a customer gets on the page and in e-mails.
EXPLAINED = frozenset(STATUS_TEXTS)


def status_label(code):
    """The customer headline of a status or milestone code (lazy, translate with ``env._``)."""
    return STATUS_LABELS.get(code, STATUS_LABELS["unknown"])
