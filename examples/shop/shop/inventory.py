"""Stock levels."""

STOCK = {"mug": 40, "tea": 120, "kettle": 3}


def reserve(name: str, quantity: int) -> int:
    if STOCK.get(name, 0) < quantity:
        raise ValueError(f"only {STOCK.get(name, 0)} {name} left")
    STOCK[name] -= quantity
    return STOCK[name]
