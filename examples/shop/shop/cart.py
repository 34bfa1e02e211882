"""A shopping cart."""

from shop.products import price_of


class Cart:
    def __init__(self) -> None:
        self.items: dict[str, int] = {}

    def add(self, name: str, quantity: int = 1) -> None:
        self.items[name] = self.items.get(name, 0) + quantity

    def subtotal(self) -> float:
        return sum(price_of(name) * quantity for name, quantity in self.items.items())

    def total(self, coupon: str | None = None) -> float:
        from shop.pricing import apply_coupon

        return apply_coupon(self.subtotal(), coupon)
