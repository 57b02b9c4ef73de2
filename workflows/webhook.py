"""One webhook delivery (workflow id = delivery id): attempts with exponential backoff
until the receiver answers 2xx, refuses for good (3xx, 4xx other than 429), or the retry
window (24 h by default) is spent; then the delivery ends `failed`. Every attempt is
recorded by the activity; a worker crash mid-attempt only costs that attempt's timeout."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from core.contracts import WEBHOOK_BACKOFF, WebhookDeliveryInput
    from core.webhooks import DeliveryStatus
    from workflows.policies import DB_ACTIVITY_TIMEOUT, DB_RETRY

# Beyond the HTTP timeout, an attempt reads its row and records itself: two statements.
ATTEMPT_MARGIN = timedelta(seconds=5)


def delivery_retry(inp: WebhookDeliveryInput) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=inp.first_retry_seconds),
        backoff_coefficient=WEBHOOK_BACKOFF,
        maximum_interval=timedelta(seconds=inp.longest_retry_seconds),
        maximum_attempts=inp.maximum_attempts,
    )


@workflow.defn(name="WebhookDelivery")
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, inp: WebhookDeliveryInput) -> str:
        try:
            return await workflow.execute_activity_method(
                WebhookActivities.deliver,
                inp,
                start_to_close_timeout=timedelta(seconds=inp.attempt_timeout_seconds)
                + ATTEMPT_MARGIN,
                retry_policy=delivery_retry(inp),
            )
        except ActivityError:
            await workflow.execute_activity_method(
                WebhookActivities.fail,
                inp.delivery_id,
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            return DeliveryStatus.FAILED
