from app.core.errors import NotFound


class NotificationNotFound(NotFound):
    code, title = "not_found", "Notification not found"
