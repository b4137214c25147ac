from app.core.errors import Conflict, NotFound, UnprocessableEntity


class OrderNotFound(NotFound):
    code, title = "not_found", "Order not found"


class CartEmpty(UnprocessableEntity):
    code, title = "cart_empty", "Nothing to check out"


class OrderTooLarge(UnprocessableEntity):
    code, title = "order_too_large", "The order is larger than one payment may be"


class CheckoutNotFound(NotFound):
    code, title = "not_found", "Checkout not found"


class CheckoutExpired(Conflict):
    code, title = "checkout_expired", "The checkout expired; its items were released"
