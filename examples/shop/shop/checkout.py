"""Checkout: price the cart, reserve stock, print a receipt."""

from shop.cart import Cart
from shop.receipt import render


def checkout(cart: Cart, coupon: str | None = None) -> float:
    total = cart.total(coupon)
    print(render(cart, total))
    return total
