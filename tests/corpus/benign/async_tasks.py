import asyncio


async def worker(name, delay):
    await asyncio.sleep(delay)
    return f"{name} finished after {delay}s"


async def main():
    results = await asyncio.gather(worker("a", 0.01), worker("b", 0.02), worker("c", 0.0))
    for line in results:
        print(line)


asyncio.run(main())
