"""The catalog: product names and unit prices."""

PRICES = {
    "mug": 12.0,
    "tea": 6.5,
    "kettle": 39.0,
}


def price_of(name: str) -> float:
    return PRICES[name]
