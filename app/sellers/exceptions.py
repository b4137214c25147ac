from app.core.errors import Conflict, Forbidden, UnprocessableEntity


class SellerProfileExists(Conflict):
    code, title = "seller_profile_exists", "You already have a seller profile"


class ShopNameTaken(Conflict):
    code, title = "shop_name_taken", "Another shop has this name"


class UnusableShopName(UnprocessableEntity):
    code, title = "invalid_shop_name", "The shop name needs letters or digits"


class SellerRequired(Forbidden):
    code, title = "seller_required", "An approved seller profile is required"


class SellerSuspended(Forbidden):
    code, title = "seller_suspended", "Your shop is suspended"
