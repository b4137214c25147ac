from app.core.errors import AppError, NotFound


class NotificationNotFound(NotFound):
    code, title = "not_found", "Notification not found"


class UnsubscribeLinkInvalid(AppError):
    status, code, title = 400, "invalid_unsubscribe_link", "The unsubscribe link is invalid"
