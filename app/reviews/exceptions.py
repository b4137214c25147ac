from app.core.errors import Conflict, Forbidden, NotFound


class ReviewNotFound(NotFound):
    code, title = "not_found", "Review not found"


class NotOrderParty(Forbidden):
    code, title = "not_order_party", "Only the buyer and the seller of an order review it"


class OrderNotReviewable(Conflict):
    code, title = "order_not_completed", "Only a completed order can be reviewed"


class ReviewWindowClosed(Conflict):
    code, title = "review_window_closed", "The review window of this order has closed"


class AlreadyReviewed(Conflict):
    code, title = "already_reviewed", "You have already reviewed this order"


class NotReviewSubject(Forbidden):
    code, title = "not_review_subject", "Only the reviewed person may reply"


class AlreadyReplied(Conflict):
    code, title = "already_replied", "The review already has a reply"
