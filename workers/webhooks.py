"""RQ entry point for webhook deliveries: one job per endpoint, sending in order."""

import logging

from mvq.webhooks import delivery

log = logging.getLogger(__name__)


def deliver(endpoint_id: str) -> int:
    settled = delivery.deliver_endpoint(endpoint_id)
    log.info("webhook deliveries settled", extra={"endpoint_id": endpoint_id, "settled": settled})
    return settled
