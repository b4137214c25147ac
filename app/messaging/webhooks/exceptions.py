from app.core.errors import AppError, Conflict, NotFound


class EndpointNotFound(NotFound):
    code, title = "not_found", "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    code, title = "not_found", "Webhook delivery not found"


class WebhookUrlNotAllowed(AppError):
    """The URL points at a private, loopback, link-local or otherwise internal address (or
    is not https where internal addresses are refused): the server must not be made to call
    into its own network."""

    status, code, title = 422, "webhook_url_not_allowed", "Webhook URL not allowed"


class EndpointDisabled(Conflict):
    code, title = "endpoint_disabled", "The webhook endpoint is disabled"
