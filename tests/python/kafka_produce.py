"""Produces values to a topic with Python confluent-kafka (a client that is not
ours) and prints [[partition, offset, value], ...] as the broker acknowledged them.

usage: kafka_produce.py BOOTSTRAP TOPIC PARTITION < values (one per line)
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, topic, partition = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert bootstrap.startswith("127.0.0.1"), bootstrap
producer = Producer({"bootstrap.servers": bootstrap})
acked = []


def delivered(error, message):
    if error is not None:
        raise SystemExit(f"delivery failed: {error}")
    acked.append([message.partition(), message.offset(), message.value().decode()])


for line in sys.stdin.read().splitlines():
    producer.produce(topic, value=line.encode(), partition=partition, on_delivery=delivered)
producer.flush(30)
print(json.dumps(acked))
