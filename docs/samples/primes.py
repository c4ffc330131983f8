"""A small, ordinary program of the kind an assistant writes: count primes and
print a summary. The README's first command assesses and runs it."""

from math import isqrt


def primes_below(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, isqrt(limit) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytearray(len(range(n * n, limit, n)))
    return [n for n, is_prime in enumerate(sieve) if is_prime]


primes = primes_below(100_000)
print(f"{len(primes)} primes below 100000; the last five: {primes[-5:]}")
