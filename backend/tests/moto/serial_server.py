"""moto_server with DynamoDB calls made one at a time.

Real DynamoDB transactions are serializable. moto's are not under concurrency: a
cancelled `TransactWriteItems` rolls the whole table back to a copy taken when it
started, erasing whatever another thread committed meanwhile (the commit-race test
lost one acknowledged version that way in CI). Taking one lock around every
DynamoDB call gives the tests the isolation the real service promises; moto is
in-memory, so the cost is small. Run as `python serial_server.py -H HOST -p PORT`.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()

_CALLS = (
    "put_item", "get_item", "query", "scan", "update_item", "delete_item",
    "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item",
)


def _serialised(call):
    @functools.wraps(call)
    def one_at_a_time(*args, **kwargs):
        with _LOCK:
            return call(*args, **kwargs)

    return one_at_a_time


for name in _CALLS:
    if hasattr(DynamoDBBackend, name):
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
