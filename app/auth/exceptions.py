from app.core.errors import AppError, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid email or password"
    keeps_changes = True  # the failure is counted towards the lockout


class TooManyLoginAttempts(TooManyRequests):
    code, title = "too_many_login_attempts", "Too many failed logins; try again later"


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired token"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "Refresh token already used; the session was revoked"
    keeps_changes = True  # the family revocation must persist


class EmailTaken(Conflict):
    code, title = "email_taken", "An account with this email exists"


class WrongPassword(AppError):
    status, code, title = 403, "wrong_password", "The current password is wrong"
    keeps_changes = True  # the failure is counted towards the lockout, as a failed login is


class AdminRequired(Forbidden):
    code, title = "admin_required", "Admin role required"


class CannotChangeOwnAdminRole(Conflict):
    code, title = "cannot_change_own_admin_role", "Admins cannot revoke their own admin role"


class InsufficientScope(Forbidden):
    code, title = "insufficient_scope", "The API key's scopes do not allow this"


class ApiKeysNeedSeller(Forbidden):
    code, title = "seller_required", "API keys are for approved sellers"


class TooManyApiKeys(Conflict):
    code, title = "too_many_api_keys", "Revoke an API key before creating another"


class ApiKeyNotFound(NotFound):
    code, title = "not_found", "API key not found"


class AccountTokenInvalid(AppError):
    status, code, title = 400, "invalid_account_token", "The link is invalid, used or expired"


class EmailNotVerified(Forbidden):
    code, title = "email_not_verified", "Confirm your email address first"


class EmailAlreadyVerified(Conflict):
    code, title = "email_already_verified", "The email address is already verified"
