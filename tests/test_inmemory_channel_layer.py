"""The embedded default's in-memory channel layer, between threads (config.channel_layers)."""

import asyncio
import threading

from asgiref.sync import async_to_sync

from config.channel_layers import ThreadSafeInMemoryChannelLayer

MESSAGES = 20000
WAIT = 30  # seconds: a bound for a failure, not a timing


def test_every_message_from_another_thread_reaches_a_busy_receiver():
    # A receiver that awaits between messages (as a consumer does, reading the database)
    # empties its queue again and again while a worker thread sends: no message may land
    # in a queue that receive() has just dropped. Before the fix, 120 of 20,000 did, and
    # a job's ``done`` could be one of them (seen: a browser left at the last step).
    layer = ThreadSafeInMemoryChannelLayer(capacity=MESSAGES + 1)
    channel = async_to_sync(layer.new_channel)()
    listening = threading.Event()
    received: list[int] = []
    finished = threading.Event()

    async def receive_all():
        first = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)  # receive() has run up to its wait: the channel has its loop
        listening.set()
        message = await first
        received.append(message["n"])
        while len(received) < MESSAGES:
            message = await layer.receive(channel)
            received.append(message["n"])
            await asyncio.sleep(0)

    def run_receiver():
        try:
            asyncio.run(asyncio.wait_for(receive_all(), WAIT))
        except TimeoutError:
            pass
        finally:
            finished.set()

    receiver = threading.Thread(target=run_receiver)
    receiver.start()
    assert listening.wait(WAIT)

    async def send_all():
        for n in range(MESSAGES):
            await layer.send(channel, {"type": "test.message", "n": n})
            if n % 7 == 0:
                await asyncio.sleep(0)

    async_to_sync(send_all)()
    assert finished.wait(WAIT + 5)
    receiver.join()
    assert received == list(range(MESSAGES))
