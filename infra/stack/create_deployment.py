"""Creates a deployment's three Kinesis streams and its metrics table (moto) and three
Kafka topics (tansu) as the SAM template creates them on AWS (SPEC §1, §12 names), so
the README's local walkthrough works on a fresh machine. Idempotent: what exists is
left alone.

usage: create_deployment.py ID MOTO_URL KAFKA_BOOTSTRAP TANSU_BINARY
"""
import subprocess
import sys

import boto3

deployment, moto, bootstrap, tansu = sys.argv[1:5]
kinesis = boto3.client(
    "kinesis", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
)
for kind in ["pin", "geo", "user"]:
    stream = f"streaming-{deployment}-{kind}"
    try:
        kinesis.create_stream(StreamName=stream, ShardCount=1)
    except kinesis.exceptions.ResourceInUseException:
        pass
    topic = f"{deployment}.{kind}"
    made = subprocess.run(
        [tansu, "topic", "create", "--broker", f"tcp://{bootstrap}", "--partitions", "3", topic],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0 and "exist" not in (made.stdout + made.stderr).lower():
        sys.exit(f"creating topic {topic}: {made.stdout}{made.stderr}")
dynamodb = boto3.client(
    "dynamodb", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
)
# As template.yaml's MetricsTable (and DynamoMetrics::create_table): keys, the profile index.
table = f"pinpipe-{deployment}-metrics"
schema = dict(
    TableName=table,
    BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gpk", "gsk")],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    GlobalSecondaryIndexes=[{
        "IndexName": "profile-buckets",
        "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
)
try:
    dynamodb.create_table(**schema)
except dynamodb.exceptions.ResourceInUseException:
    indexes = dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
    if not any(i["IndexName"] == "profile-buckets" for i in indexes):
        # Made by an older stack: local metrics are disposable, so the table is made anew.
        dynamodb.delete_table(TableName=table)
        dynamodb.create_table(**schema)
print(f"deployment {deployment}: metrics table pinpipe-{deployment}-metrics, streams streaming-{deployment}-{{pin,geo,user}}, topics {deployment}.{{pin,geo,user}}")
