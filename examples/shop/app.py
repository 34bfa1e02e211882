"""Check out a cart from the command line: python app.py [COUPON]."""

import sys

from shop.cart import Cart
from shop.checkout import checkout


def main(argv: list[str]) -> float:
    cart = Cart()
    cart.add("mug", 2)
    cart.add("tea", 1)
    coupon = argv[0] if argv else None
    return checkout(cart, coupon)


if __name__ == "__main__":
    main(sys.argv[1:])
