from app.core.errors import NotFound, UnprocessableEntity


class CommissionRuleNotFound(NotFound):
    code, title = "commission_rule_not_found", "No such commission rule"


class InvalidCommissionRule(UnprocessableEntity):
    code, title = "invalid_commission_rule", "Invalid commission rule"
