from app.core.errors import Conflict


class AccountInUse(Conflict):
    code, title = "account_in_use", "The account has business in progress"
