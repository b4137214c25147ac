from app.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class PromotionNotFound(NotFound):
    code, title = "not_found", "Promotion not found"


class CouponCodeTaken(Conflict):
    code, title = "coupon_code_taken", "Another promotion has this code"


class CouponInvalid(UnprocessableEntity):
    """No promotion has the code, or it is not running now (not started yet, or ended)."""

    code, title = "coupon_invalid", "Invalid coupon code"


class CouponNotApplicable(UnprocessableEntity):
    """The code is valid, but not for these items (restrictions, minimum order)."""

    code, title = "coupon_not_applicable", "The coupon does not apply to these items"


class CouponExhausted(Conflict):
    """Used as often as it may be, in all or by this buyer."""

    code, title = "coupon_exhausted", "The coupon has been used up"


class ShopPromotionReadOnly(Forbidden):
    code, title = (
        "shop_promotion_read_only",
        "A shop-funded promotion is its shop's to change",
    )
