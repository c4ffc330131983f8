from decimal import Decimal, getcontext
from fractions import Fraction

getcontext().prec = 30
print(Fraction(1, 3) + Fraction(1, 6))
print(Decimal(1) / Decimal(7))
print(sum(Fraction(1, 2 ** n) for n in range(1, 20)))
