"""What the platform charges: the commission by rule (category, shop) and the buyer
protection fee."""
