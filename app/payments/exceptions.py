from app.core.errors import AppError, Conflict, NotFound, UnprocessableEntity


class InsufficientBalance(Conflict):
    code, title = "insufficient_balance", "Not enough available balance"


class PaymentDeclined(AppError):
    status, code, title = 402, "payment_declined", "The payment was declined"


class InsufficientFunds(AppError):
    status, code, title = 402, "insufficient_funds", "Insufficient funds"


class PaymentProviderError(AppError):
    status, code, title = 502, "payment_provider_error", "The payment provider failed; retry"


class InvalidPaymentToken(UnprocessableEntity):
    code, title = "invalid_payment_token", "Unknown payment token"


class PayoutNotFound(NotFound):
    code, title = "not_found", "Payout not found"
