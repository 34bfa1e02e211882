"""Receipts."""

from shop.cart import Cart


def render(cart: Cart, total: float) -> str:
    lines = [f"{quantity} x {name}" for name, quantity in cart.items.items()]
    return "\n".join([*lines, f"total: {total:.2f}"])
