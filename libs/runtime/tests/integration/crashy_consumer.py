"""Runs a consumer that dies (exit 137, like SIGKILL) after its first DB commit, before the offset commit.
Started as a subprocess by test_consumer_loop.py."""

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from rcm_runtime.consumer import ConsumerLoop  # noqa: E402
from rcm_runtime.db import make_engine  # noqa: E402
from rcm_runtime.kafka_access import stack_access  # noqa: E402
from rcm_runtime.settings import ServiceSettings  # noqa: E402

from libs.runtime.tests.integration.support import HANDLERS  # noqa: E402


async def main() -> None:
    settings = ServiceSettings(service_name="crashy", db_schema=os.environ["CRASH_SCHEMA"],
                               database_url=os.environ["CRASH_DB_URL"])
    engine = make_engine(settings, pool_size=2)
    loop = ConsumerLoop(engine=engine, kafka=stack_access(bootstrap=os.environ["CRASH_BOOTSTRAP"]), group_id=os.environ["CRASH_GROUP"],
                        topics=[os.environ["CRASH_TOPIC"]], handlers=HANDLERS, service="crashy",
                        out_topic="unused", batch_max=50)
    await loop.start()

    async def die(*_a, **_k):
        os._exit(137)  # the DB transaction is committed; the offsets never will be

    loop.consumer.commit = die
    await loop.run()


asyncio.run(main())
