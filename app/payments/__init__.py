"""Money: the double-entry ledger, the payment provider interface (sandbox built in), seller
balances and payouts."""
