from app.core.errors import AppError, Conflict, NotFound, UnprocessableEntity


class ReturnNotFound(NotFound):
    code, title = "not_found", "Return not found"


class DisputeNotFound(NotFound):
    code, title = "not_found", "Dispute not found"


class EvidenceNotFound(NotFound):
    code, title = "not_found", "Evidence not found"


class OrderNotCompleted(Conflict):
    code, title = "order_not_completed", "Only a completed order can be returned"


class ReturnWindowClosed(Conflict):
    code, title = "return_window_closed", "The return window of this order has closed"


class ReturnExists(Conflict):
    code, title = "return_exists", "This order already has a return"


class ReturnInProgress(Conflict):
    code, title = "return_in_progress", "A return of this order is in progress"


class DisputeExists(Conflict):
    code, title = "dispute_exists", "This order already has a dispute"


class DisputeWindowClosed(Conflict):
    code, title = "dispute_window_closed", "The dispute window of this order has closed"


class OrderNotDisputable(Conflict):
    code, title = "order_not_disputable", "Disputes are for paid, shipped or completed orders"


class DisputeClosed(Conflict):
    code, title = "dispute_resolved", "The dispute is resolved"


class RefundTooLarge(UnprocessableEntity):
    code, title = "refund_exceeds_paid", "The refund is more than the buyer paid"


class InvalidReturnItems(UnprocessableEntity):
    code, title = "invalid_return_items", "The items are not lines of this order"


class UnknownEvidence(UnprocessableEntity):
    code, title = "unknown_evidence", "No such evidence on this dispute"


class EvidenceTooLarge(AppError):
    status, code, title = 413, "evidence_too_large", "The file is too large"


class UnsupportedEvidenceType(AppError):
    status, code, title = 415, "unsupported_evidence_type", "Only JPEG, PNG, WebP or PDF files"
