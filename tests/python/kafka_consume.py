"""Reads a topic from the beginning with Python confluent-kafka (a client that is
not ours) in a fresh consumer group, and prints [[partition, offset, value], ...].

usage: kafka_consume.py BOOTSTRAP TOPIC COUNT
"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert bootstrap.startswith("127.0.0.1"), bootstrap
consumer = Consumer(
    {"bootstrap.servers": bootstrap, "group.id": f"pinpipe-tests-{uuid.uuid4()}", "auto.offset.reset": "earliest"}
)
consumer.subscribe([topic])
seen, deadline = [], time.time() + 60
while len(seen) < count and time.time() < deadline:
    message = consumer.poll(1.0)
    if message is None:
        continue
    if message.error():
        raise SystemExit(f"consumer error: {message.error()}")
    seen.append([message.partition(), message.offset(), message.value().decode()])
consumer.close()
print(json.dumps(sorted(seen)))
