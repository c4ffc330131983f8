FACTORS = {("km", "mi"): 0.621371, ("mi", "km"): 1.609344, ("kg", "lb"): 2.20462, ("lb", "kg"): 0.453592}


def convert(value, src, dst):
    if src == dst:
        return value
    try:
        return value * FACTORS[(src, dst)]
    except KeyError:
        raise ValueError(f"cannot convert {src} to {dst}") from None


for v, s, d in [(10, "km", "mi"), (5, "lb", "kg")]:
    print(v, s, "=", round(convert(v, s, d), 3), d)
