"""Coupons and discounts."""

COUPONS = {
    "SPRING10": {"percent": 10},
    "WELCOME5": {"percent": 5},
}


def apply_coupon(subtotal: float, code: str | None) -> float:
    """The subtotal after the coupon's discount; no coupon, no discount."""
    if not code:
        return subtotal
    rate = COUPONS[code]["percent"]
    return round(subtotal * (100 - rate) / 100, 2)
