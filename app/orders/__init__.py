"""Cart, checkout (one order per seller), escrow orders and their timeline."""
