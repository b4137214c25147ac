from app.core.errors import AppError, Conflict, NotFound, UnprocessableEntity


class ListingNotFound(NotFound):
    code, title = "not_found", "Listing not found"


class CategoryNotFound(NotFound):
    code, title = "not_found", "Category not found"


class UnknownCategory(UnprocessableEntity):
    code, title = "unknown_category", "No such category"


class CategoryNotLeaf(UnprocessableEntity):
    code, title = "category_not_leaf", "Listings go in leaf categories only"


class CategorySlugTaken(Conflict):
    code, title = "category_slug_taken", "Another category has this slug"


class CategoryCycle(Conflict):
    code, title = "category_cycle", "A category cannot move under itself or its descendants"


class CategoryHasChildren(Conflict):
    code, title = "category_has_children", "The category has sub-categories"


class CategoryHasListings(Conflict):
    code, title = "category_has_listings", "The category has listings"


class ListingNotEditable(Conflict):
    code, title = "listing_not_editable", "Archived or removed listings cannot be edited"


class AlreadyReported(Conflict):
    code, title = "already_reported", "You have already reported this listing"


class TooManyImages(Conflict):
    code, title = "too_many_images", "The listing has the maximum number of images"


class ImageTooLarge(AppError):
    status, code, title = 413, "image_too_large", "The image is too large"


class UnsupportedImageType(AppError):
    status, code, title = 415, "unsupported_image_type", "Only JPEG, PNG and WebP images"


class ListingUnavailable(Conflict):
    code, title = "listing_unavailable", "The listing is not for sale"


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", "Not enough stock"


class CannotBuyOwnListing(Conflict):
    code, title = "cannot_buy_own_listing", "Sellers cannot buy their own listings"


class ReportNotOpen(Conflict):
    code, title = "report_not_open", "No such open report of this listing"
