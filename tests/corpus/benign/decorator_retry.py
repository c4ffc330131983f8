import functools


def retry(times):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(1, times + 1):
                try:
                    return func(*args, **kwargs)
                except ValueError as err:
                    print(f"attempt {attempt} failed: {err}")
            raise RuntimeError("all attempts failed")
        return wrapper
    return decorate


calls = {"n": 0}


@retry(3)
def flaky():
    calls["n"] += 1
    if calls["n"] < 3:
        raise ValueError("not yet")
    return "ok"


print(flaky())
