"""Double-blind two-sided reviews and the reputation built from them."""
