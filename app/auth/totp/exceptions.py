from app.core.errors import Conflict, Forbidden, Unauthorized


class TotpAlreadyEnabled(Conflict):
    code, title = "totp_already_enabled", "A second factor is already enabled; disable it first"


class TotpNotEnrolling(Conflict):
    code, title = "totp_not_enrolling", "No second factor enrolment to confirm; enrol first"


class TotpNotEnabled(Conflict):
    code, title = "totp_not_enabled", "No second factor is enabled"


class InvalidTotpCode(Forbidden):
    code, title = "invalid_totp_code", "The code is wrong, expired or already used"
    keeps_changes = True  # a wrong code is counted towards the lockout, as a wrong password is


class TotpRequired(Unauthorized):
    code, title = "totp_required", "This account needs a second-factor code to log in"
    keeps_changes = True  # the right password is no failure: its attempt's removal stays


class InvalidLoginTotpCode(Unauthorized):
    code, title = InvalidTotpCode.code, InvalidTotpCode.title
    keeps_changes = True  # the login's attempt stays counted, as after a wrong password


class SecondFactorRequired(Forbidden):
    code, title = "second_factor_required", "Admins need a second factor: enrol one at /v1/me/totp"
