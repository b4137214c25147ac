from app.core.errors import Unauthorized


class InvalidMetricsToken(Unauthorized):
    code, title = "invalid_metrics_token", "The metrics token is missing or wrong"
